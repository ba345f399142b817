using Akka.Configuration;

namespace AnomalyActors.Notifications.Tests;

/// <summary>
/// The node's shipped hocon/akka.conf and the module's serializer binding, on a local provider, with in-memory
/// stores in place of the SQL ones the node completes at start-up.
/// </summary>
internal static class ShippedAkkaConfig
{
    public static Config Local
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "hocon", "akka.conf");
            return ConfigurationFactory.ParseString("""
                    akka.actor.provider = local
                    akka.loglevel = WARNING
                    akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
                    akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
                    """)
                .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(path)))
                .WithFallback(Log.NotificationSerializer.AkkaConfig);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// Mistakes an operator makes in the configuration: each is refused before anything starts, with the
/// key (or the environment variable), the value, what is expected and the file.
/// </summary>
public sealed class ConfigurationErrorSpecs
{
    private static readonly string Shipped = Path.Combine(AppContext.BaseDirectory, "hocon");

    /// <summary>A copy of the shipped hocon folder with one edit in <paramref name="file"/>.</summary>
    private static string EditedCopy(string file, string find, string replace)
    {
        var directory = Path.Combine(HostFixture.NewDataDirectory(), "hocon");
        Directory.CreateDirectory(directory);
        foreach (var shipped in Directory.GetFiles(Shipped))
        {
            File.Copy(shipped, Path.Combine(directory, Path.GetFileName(shipped)));
        }

        var path = Path.Combine(directory, file);
        var text = File.ReadAllText(path);
        Assert.True(text.Contains(find, StringComparison.Ordinal), $"the shipped {file} no longer has '{find}'");
        File.WriteAllText(path, text.Replace(find, replace, StringComparison.Ordinal));
        return directory;
    }

    [Theory]
    [InlineData("partitions = 8", "partitions = eight", "'anomaly-actors.intake.partitions' is 'eight'; expected an integer")]
    [InlineData("append-timeout = 30s", "append-timeout = 30x", "'anomaly-actors.intake.append-timeout' is '30x'; expected a duration")]
    [InlineData("close-after-in-band = 5", "close-after-in-band = five", "'anomaly-actors.sensor.close-after-in-band' is 'five'; expected an integer")]
    [InlineData("        alpha = 0.04\n        # Smoothing factor for the first", "        alpah = 0.04\n        # Smoothing factor for the first", "Unknown configuration key 'anomaly-actors.detection.detectors.ewma.alpah'")]
    [InlineData("  sensor {", "  sensr.x = 1\n  sensor {", "Unknown configuration key 'anomaly-actors.sensr.x'")]
    [InlineData("  sensor {", "  sensor {{", "line ")]
    [InlineData("data-dir = \"data\"", "data-dir = \"data", "line 7, column 14: the quoted string")]
    [InlineData("trim-interval = 2s", "trim-intervall = 2s", "Missing configuration key 'anomaly-actors.intake.trim-interval'")]
    [InlineData("max-pending-per-channel = 10000", "max-pending-per-chanel = 10000", "Unknown configuration key 'anomaly-actors.notifications.max-pending-per-chanel'")]
    [InlineData("    routes = []\n", "    routes = [ { channels = [pager] } ]\n", "names channel 'pager', but 'anomaly-actors.notifications.channels' has no such block")]
    [InlineData("recent-alerts = 1000", "recent-alert = 1000", "Missing configuration key 'anomaly-actors.web.recent-alerts'")]
    [InlineData("host = \"127.0.0.1\"   # environment: ANOMALY_ACTORS_WEB_HOST", "host = \"0.0.0.0\"", "'anomaly-actors.web.host' is 0.0.0.0, beyond this machine, but 'anomaly-actors.web.token' is empty")]
    [InlineData("site = \"local\"", "site = \"eu.west\"", "'anomaly-actors.site' is 'eu.west'; expected 1-64 letters, digits, '_' or '-'")]
    public void Should_refuse_a_bad_value_naming_the_key_the_value_and_the_file(string find, string replace, string expected)
    {
        var hocon = EditedCopy("anomaly-actors.conf", find, replace);

        var error = Assert.Throws<ConfigurationException>(() => AnomalyActorsSettings.Load(hoconDirectory: hocon));

        Assert.Contains(expected, error.Message);
        Assert.Contains(Path.Combine(hocon, "anomaly-actors.conf"), error.Message);
    }

    [Fact]
    public void Should_name_the_nearest_known_key_of_a_misspelled_one()
    {
        var hocon = EditedCopy("anomaly-actors.conf", "        alpha = 0.04\n        # Smoothing factor for the first", "        alpah = 0.04\n        # Smoothing factor for the first");

        var error = Assert.Throws<ConfigurationException>(() => AnomalyActorsSettings.Load(hoconDirectory: hocon));

        Assert.Contains("did you mean 'anomaly-actors.detection.detectors.ewma.alpha'?", error.Message);
    }

    [Fact]
    public void Should_name_the_akka_file_for_a_bad_cluster_port()
    {
        var hocon = EditedCopy("akka.conf", "port = 0", "port = abc");

        var error = Assert.Throws<ConfigurationException>(() => AnomalyActorsSettings.Load(hoconDirectory: hocon));

        Assert.Contains("'akka.remote.dot-netty.tcp.port' is 'abc'; expected an integer from 0 to 65535", error.Message);
        Assert.Contains(Path.Combine(hocon, "akka.conf"), error.Message);
    }

    [Fact]
    public void Should_refuse_a_shared_mqtt_subscription_on_a_member_without_a_fixed_cluster_port()
    {
        // A member's share of the subscription is a session named after its port: on any free
        // port a restart would leave its queue behind in the broker.
        var overrides = ConfigurationFactory.ParseString("""
            anomaly-actors.persistence.provider = postgresql
            anomaly-actors.persistence.postgresql.connection-string = "Host=127.0.0.1;Database=site"
            akka.cluster.seed-nodes = ["akka.tcp://anomaly-actors@127.0.0.1:4053"]
            akka.remote.dot-netty.tcp.port = 0
            anomaly-actors.mqtt.broker.embedded = off
            anomaly-actors.mqtt.subscriber.in-cluster = shared
            """);

        var error = Assert.Throws<ConfigurationException>(() => AnomalyActorsSettings.Load(overrides));

        Assert.Contains("'anomaly-actors.mqtt.subscriber.in-cluster' is shared", error.Message);
        Assert.Contains("'akka.remote.dot-netty.tcp.port' is 0", error.Message);
        var fixedPort = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.port = 4053").WithFallback(overrides);
        Assert.Equal(AnomalyActors.Mqtt.ClusterSubscription.Shared, AnomalyActorsSettings.Load(fixedPort).Mqtt.Subscriber.InCluster);
    }

    [Fact]
    public void Should_name_the_sqlite_file_it_cannot_use()
    {
        var directory = HostFixture.NewDataDirectory();
        File.WriteAllText(Path.Combine(directory, "anomaly-actors.db"), new string('x', 4096));

        var error = Assert.Throws<ConfigurationException>(() =>
            AnomalyHost.StartAsync(HostFixture.Config(directory, HostFixture.FreePortNumber())).GetAwaiter().GetResult());

        Assert.Contains(Path.Combine(directory, "anomaly-actors.db"), error.Message);
        Assert.Contains("file is not a database", error.Message);
    }

    [Fact]
    public async Task Should_name_the_mqtt_port_in_use()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => AnomalyHost.StartAsync(HostFixture.Config(HostFixture.NewDataDirectory(), port)));

        Assert.Contains($"'anomaly-actors.mqtt.broker.port' is {port}", error.Message);
        Assert.Contains("in use by another program", error.Message);
    }

    [Fact]
    public async Task Should_name_the_cluster_port_in_use()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var config = ConfigurationFactory.ParseString($"akka.remote.dot-netty.tcp.port = {port}")
            .WithFallback(HostFixture.Config(HostFixture.NewDataDirectory(), HostFixture.FreePortNumber()));

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => AnomalyHost.StartAsync(config));

        Assert.Contains($"'akka.remote.dot-netty.tcp.port' is {port}", error.Message);
        Assert.Contains("in use by another program", error.Message);
    }

    [Theory]
    [InlineData("ANOMALY_ACTORS_MQTT_PORT", "abc", "'anomaly-actors.mqtt.broker.port' is 'abc'; expected an integer from 0 to 65535")]
    [InlineData("ANOMALY_ACTORS_MQTT_PORT", "99999", "'anomaly-actors.mqtt.broker.port' is '99999'; expected an integer from 0 to 65535")]
    [InlineData("ANOMALY_ACTORS_WEB_PORT", "http", "'anomaly-actors.web.port' is 'http'; expected an integer from 0 to 65535")]
    [InlineData("ANOMALY_ACTORS_WEB_TOKEN", "short", "'anomaly-actors.web.token' must be at least 24 printable ASCII characters")]
    [InlineData("ANOMALY_ACTORS_PORT", "99999", "'akka.remote.dot-netty.tcp.port' is '99999'; expected an integer from 0 to 65535")]
    [InlineData("ANOMALY_ACTORS_SEEDS", "akka.tcp://anomaly-actors@127.0.0.1:4053, akka.tcp://anomaly-actors@127.0.0.1:4054",
        "'akka.cluster.seed-nodes' lists 2 seed node(s) (set by the environment variable ANOMALY_ACTORS_SEEDS), but 'anomaly-actors.persistence.provider' is sqlite")]
    [InlineData("ANOMALY_ACTORS_SEEDS", "127.0.0.1:4053", "'akka.cluster.seed-nodes' has '127.0.0.1:4053', which is not a node address")]
    public async Task Should_name_the_environment_variable_that_set_a_bad_value(string variable, string value, string expected)
    {
        var info = new ProcessStartInfo("dotnet") { ArgumentList = { CliProcess.Program, "run", "--duration", "1" } };
        info.Environment[variable] = value;
        using var cli = CliProcess.Start(HostFixture.NewDataDirectory(), info);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await cli.Process.WaitForExitAsync(timeout.Token);
        cli.Process.WaitForExit();

        Assert.Equal(3, cli.Process.ExitCode);
        Assert.Contains(expected, cli.Output);
        Assert.Contains($"set by the environment variable {variable}", cli.Output);
    }
}

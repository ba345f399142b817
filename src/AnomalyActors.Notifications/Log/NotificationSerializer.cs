using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Notifications.Log;

/// <summary>
/// Binary serializer of the notification log's events and snapshots and of the changes members send
/// the site's dispatcher. Manifests are short and frozen (they are stored in the journal); each
/// payload starts with a layout version byte. Bound to <see cref="INotificationMessage"/> by
/// <see cref="AkkaConfig"/>, which the node's configuration falls back on.
/// </summary>
public sealed class NotificationSerializer : SerializerWithStringManifest
{
    public const int Id = 8422;

    private const byte V1 = 1;

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(NotificationAccepted)] = "na",
        [typeof(NotificationsSettled)] = "nx",
        [typeof(NotificationLogSnapshot)] = "nl",
        [typeof(NotifyChange)] = "nc",
        [typeof(ChangeAccepted)] = "nk",
    };

    /// <summary>The module's Akka settings, as an Akka module's reference configuration would hold them.</summary>
    public static readonly Config AkkaConfig = ConfigurationFactory.ParseString("""
        akka.actor {
          serializers.anomaly-actors-notifications = "AnomalyActors.Notifications.Log.NotificationSerializer, AnomalyActors.Notifications"
          serialization-bindings {
            "AnomalyActors.Notifications.Log.INotificationMessage, AnomalyActors.Notifications" = anomaly-actors-notifications
          }
        }
        """);

    public NotificationSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} is not serializable by {nameof(NotificationSerializer)}.");

    public override byte[] ToBinary(object obj)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(V1);
            switch (obj)
            {
                case NotificationAccepted a:
                    WriteNotice(w, a.Notice);
                    WriteList(w, a.Targets, WriteTarget);
                    w.Write(a.AtMs);
                    break;
                case NotificationsSettled s:
                    WriteList(w, s.Keys, (w2, k) => w2.Write(k));
                    w.Write(s.AtMs);
                    w.Write(s.Delivered);
                    break;
                case NotificationLogSnapshot snapshot:
                    WriteList(w, snapshot.Pending, (w2, p) =>
                    {
                        WriteTarget(w2, p.Target);
                        WriteNotice(w2, p.Notice);
                    });
                    WriteList(w, snapshot.Settled, (w2, s) =>
                    {
                        w2.Write(s.Key);
                        w2.Write(s.AtMs);
                    });
                    break;
                case NotifyChange change:
                    w.Write(change.Sequence);
                    WriteNotice(w, change.Notice);
                    break;
                case ChangeAccepted accepted:
                    w.Write(accepted.Sequence);
                    break;
                default:
                    throw new ArgumentException($"{obj.GetType()} is not serializable by {nameof(NotificationSerializer)}.");
            }
        }

        return buffer.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
        var version = r.ReadByte();
        if (version != V1)
        {
            throw new SerializationException($"Unknown layout version {version} for manifest '{manifest}'.");
        }

        return manifest switch
        {
            "na" => new NotificationAccepted(ReadNotice(r), ReadList(r, ReadTarget), r.ReadInt64()),
            "nx" => new NotificationsSettled(ReadList(r, r2 => r2.ReadString()), r.ReadInt64(), r.ReadBoolean()),
            "nl" => new NotificationLogSnapshot(
                ReadList(r, r2 => new PendingNotification(ReadTarget(r2), ReadNotice(r2))),
                ReadList(r, r2 => new SettledNotification(r2.ReadString(), r2.ReadInt64()))),
            "nc" => new NotifyChange(r.ReadInt64(), ReadNotice(r)),
            "nk" => new ChangeAccepted(r.ReadInt64()),
            _ => throw new SerializationException($"Unknown manifest '{manifest}'."),
        };
    }

    private static void WriteTarget(BinaryWriter w, NotificationTarget target)
    {
        w.Write(target.Route);
        w.Write(target.Channel);
    }

    private static NotificationTarget ReadTarget(BinaryReader r) => new(r.ReadString(), r.ReadString());

    private static void WriteNotice(BinaryWriter w, AlertNotice n)
    {
        w.Write(n.AlertId);
        w.Write(n.Stream.Site);
        w.Write(n.Stream.Device);
        w.Write(n.Stream.Metric);
        w.Write(n.Firing);
        w.Write(n.Severity);
        w.Write(n.At.ToUnixTimeMilliseconds());
        w.Write(n.Value);
        w.Write(n.Grade);
        w.Write(n.Text);
        w.Write(n.Repeat);
    }

    private static AlertNotice ReadNotice(BinaryReader r) => new(
        r.ReadString(),
        new StreamId(r.ReadString(), r.ReadString(), r.ReadString()),
        r.ReadBoolean(),
        r.ReadString(),
        DateTimeOffset.FromUnixTimeMilliseconds(r.ReadInt64()),
        r.ReadDouble(),
        r.ReadDouble(),
        r.ReadString(),
        r.ReadBoolean());

    private static void WriteList<T>(BinaryWriter w, IReadOnlyList<T> items, Action<BinaryWriter, T> write)
    {
        w.Write(items.Count);
        foreach (var item in items)
        {
            write(w, item);
        }
    }

    private static List<T> ReadList<T>(BinaryReader r, Func<BinaryReader, T> read)
    {
        var count = r.ReadInt32();
        if (count < 0)
        {
            throw new SerializationException($"Negative list length {count}.");
        }

        var items = new List<T>(Math.Min(count, 4096));
        for (var i = 0; i < count; i++)
        {
            items.Add(read(r));
        }

        return items;
    }
}

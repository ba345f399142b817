using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;

namespace AnomalyActors.Models.Clustering;

/// <summary>
/// Passes the model on inside a site's cluster, so that a member cut off from the shared storage
/// (its mount down, while the cluster's own network is up) still takes the version its peers took.
/// The version a member took from the shared storage goes into a last-writer-wins register of
/// distributed data, gossiped to every member; each member offers what it receives to its own
/// <see cref="ModelPuller"/>, which verifies it like a copy from the storage and takes it only while
/// its own storage does not answer. The latest version taken anywhere wins, a rollback included.
/// </summary>
public sealed class ModelReplication
{
    private static readonly LWWRegisterKey<string> Key = new("anomaly-actors-global-model");

    // Gossip goes in one remoting frame (128,000 bytes by default) with the register's envelope.
    private const int MaxEncodedChars = 100_000;
    private readonly object _gate = new();
    private IActorRef _actor = ActorRefs.Nobody;
    private ModelPuller? _puller;
    private ModelFiles? _received;

    private ModelReplication()
    {
    }

    /// <summary>This member's end of the register; <see cref="Attach"/> it to the node's puller once that runs.</summary>
    public static ModelReplication Start(ActorSystem system)
    {
        var replication = new ModelReplication();
        replication._actor = system.ActorOf(Props.Create(() => new Replicator(replication)), "model-replication");
        return replication;
    }

    /// <summary>A version this member took from the shared storage: for the other members.</summary>
    /// <exception cref="InvalidOperationException">The version is too large to gossip (the members that reach the storage take it from there).</exception>
    public void Announce(ModelFiles files)
    {
        var encoded = Encode(files);
        if (encoded.Length > MaxEncodedChars)
        {
            throw new InvalidOperationException($"its files take {encoded.Length:N0} characters to gossip, more than the {MaxEncodedChars:N0} that fit one remoting frame; members that cannot reach the shared storage keep their model");
        }

        _actor.Tell(encoded);
    }

    /// <summary>Offers the puller what the other members took, the latest received so far included.</summary>
    public void Attach(ModelPuller puller)
    {
        lock (_gate)
        {
            _puller = puller;
            if (_received is { } received)
            {
                puller.Offer(received);
            }
        }
    }

    private void Received(ModelFiles files)
    {
        lock (_gate)
        {
            _received = files;
            _puller?.Offer(files);
        }
    }

    // Version, model file and manifest file on three lines, the files in base64: a plain string is
    // what distributed data's own serializer carries without a serializer of ours.
    private static string Encode(ModelFiles files) =>
        string.Join('\n', files.Version, Convert.ToBase64String(files.Model), Convert.ToBase64String(files.Manifest));

    private static ModelFiles? Decode(string? value)
    {
        var parts = value?.Split('\n');
        if (parts is not { Length: 3 })
        {
            return null;
        }

        try
        {
            return new ModelFiles(parts[0], Convert.FromBase64String(parts[1]), Convert.FromBase64String(parts[2]));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Writes what this member's puller took into the register, and hands on what the register holds.</summary>
    private sealed class Replicator : ReceiveActor
    {
        private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
        private readonly UniqueAddress _self = Cluster.Get(Context.System).SelfUniqueAddress;

        public Replicator(ModelReplication replication)
        {
            Receive<string>(value =>
                _replicator.Tell(Dsl.Update(Key, new LWWRegister<string>(_self, value), WriteLocal.Instance, register => register.WithValue(_self, value))));
            Receive<Changed>(changed =>
            {
                if (Decode(changed.Get(Key).Value) is { } files)
                {
                    replication.Received(files);
                }
            });
            Receive<UpdateSuccess>(_ => { });
        }

        protected override void PreStart() => _replicator.Tell(Dsl.Subscribe(Key, Self));
    }
}

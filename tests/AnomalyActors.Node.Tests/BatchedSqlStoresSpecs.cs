using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using AnomalyActors.Node.Persistence;
using AnomalyActors.Node.Settings;
using PersistenceSettings = AnomalyActors.Node.Settings.PersistenceSettings;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>
/// The journal and snapshot store that answer recovering actors' reads in batches must recover
/// every actor exactly as the plugin's own classes do: its latest snapshot (not an older one still
/// stored, not another actor's), the events after it, and its highest sequence number (also after
/// its events were deleted), with hundreds of actors recovering at once.
/// </summary>
public abstract class BatchedSqlStoresSpecsBase
{
    private const int Actors = 240;
    private const int WritersAtOnce = 8;

    protected abstract Task<PersistenceSettings> NewStoreAsync();

    [Fact]
    public async Task Should_recover_every_actor_as_the_plugin_does_when_hundreds_recover_at_once()
    {
        var settings = await NewStoreAsync();

        // Arrange: actors in every shape a recovery meets, written through the plugin's own classes,
        // a few at a time: hundreds of writers at once queue on SQLite's one write lock for minutes
        // on a busy machine, and only the recovery below needs them all at once.
        var expected = new Dictionary<string, Recovered>();
        using (var writer = NewSystem(settings, batched: false))
        {
            foreach (var group in Enumerable.Range(0, Actors).Chunk(WritersAtOnce))
            {
                var written = await Task.WhenAll(group.Select(i =>
                {
                    var id = "actor-" + i;
                    return WriteAsync(writer.ActorOf(Props.Create(() => new Ledger(id)), id), i % 5, i);
                }));
                foreach (var state in written)
                {
                    expected[state.Id] = state;
                }
            }

            await writer.Terminate();
        }

        // Act: every actor recovers at once, through the batched classes. The bound is generous:
        // what is tested is what they recover, and on a CI machine running other suites beside this
        // one the writes above took 70 ms a round trip and 240 recoveries outlasted 60 s.
        using var reader = NewSystem(settings, batched: true);
        var recovered = await Task.WhenAll(expected.Keys.Select(id =>
            reader.ActorOf(Props.Create(() => new Ledger(id)), id).Ask<Recovered>(Ledger.Report.Instance, TimeSpan.FromSeconds(180))));

        // Assert: the same state and sequence number as written, for every one of them.
        foreach (var actual in recovered)
        {
            Assert.Equal(expected[actual.Id], actual);
        }

        // And the next event of each continues its numbering (the highest number read was right).
        var next = await Task.WhenAll(expected.Keys.Select(id =>
            reader.ActorSelection("/user/" + id).Ask<Recovered>(new Ledger.Add("next"), TimeSpan.FromSeconds(60))));
        foreach (var actual in next)
        {
            Assert.Equal(expected[actual.Id].SequenceNr + 1, actual.SequenceNr);
        }

        await reader.Terminate();
    }

    [Fact]
    public async Task Should_save_hundreds_of_snapshots_at_once_and_delete_the_older_ones_as_the_plugin_does()
    {
        var settings = await NewStoreAsync();

        // Arrange: every actor journals, saves a snapshot, journals again.
        var expected = new Dictionary<string, Recovered>();
        var firstSnapshots = new Dictionary<string, long>();
        using (var writer = NewSystem(settings, batched: true))
        {
            var actors = Enumerable.Range(0, Actors).Select(i => "pruning-" + i).ToDictionary(id => id, id => writer.ActorOf(Props.Create(() => new Ledger(id)), id));
            var timeout = TimeSpan.FromSeconds(180);
            await Task.WhenAll(actors.Values.Select(a => a.Ask<Recovered>(new Ledger.Add("a"), timeout)));
            foreach (var first in await Task.WhenAll(actors.Values.Select(a => a.Ask<Recovered>(Ledger.Snapshot.Instance, timeout))))
            {
                firstSnapshots[first.Id] = first.SequenceNr;
            }

            await Task.WhenAll(actors.Values.Select(a => a.Ask<Recovered>(new Ledger.Add("b"), timeout)));

            // Act: all of them at once save their next snapshot and then delete the older ones, as a
            // node's sensors do when they hand off together.
            foreach (var state in await Task.WhenAll(actors.Values.Select(a => a.Ask<Recovered>(Ledger.SnapshotAndPrune.Instance, timeout))))
            {
                expected[state.Id] = state;
            }

            // And once more with nothing new: a save under the same sequence number replaces the row.
            await Task.WhenAll(actors.Values.Select(a => a.Ask<Recovered>(Ledger.Snapshot.Instance, timeout)));

            await writer.Terminate();
        }

        // Assert, through the plugin's own classes: every actor's latest snapshot is there, and the
        // older one is gone.
        using var reader = NewSystem(settings, batched: false);
        var store = Akka.Persistence.Persistence.Instance.Apply(reader).SnapshotStoreFor(null);
        foreach (var id in expected.Keys)
        {
            var recovered = await reader.ActorOf(Props.Create(() => new Ledger(id)), id).Ask<Recovered>(Ledger.Report.Instance, TimeSpan.FromSeconds(60));
            Assert.Equal(expected[id], recovered);
            var latest = await store.Ask<LoadSnapshotResult>(new LoadSnapshot(id, SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromSeconds(60));
            Assert.Equal(expected[id].SequenceNr, latest.Snapshot?.Metadata.SequenceNr);
            Assert.Equal("a,b", latest.Snapshot?.Snapshot);
            var older = await store.Ask<LoadSnapshotResult>(new LoadSnapshot(id, new SnapshotSelectionCriteria(firstSnapshots[id]), long.MaxValue), TimeSpan.FromSeconds(60));
            Assert.Null(older.Snapshot);
        }

        await reader.Terminate();
    }

    /// <summary>Shape 0: nothing written; 1: events only; 2: snapshot then events; 3: two snapshots; 4: events all deleted.</summary>
    private static async Task<Recovered> WriteAsync(IActorRef actor, int shape, int salt)
    {
        var timeout = TimeSpan.FromSeconds(60);
        Recovered last = await actor.Ask<Recovered>(Ledger.Report.Instance, timeout);
        switch (shape)
        {
            case 1:
                for (var e = 0; e < 3 + salt % 4; e++)
                {
                    last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-{e}"), timeout);
                }

                break;
            case 2:
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-a"), timeout);
                last = await actor.Ask<Recovered>(Ledger.Snapshot.Instance, timeout);
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-b"), timeout);
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-c"), timeout);
                break;
            case 3:
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-a"), timeout);
                last = await actor.Ask<Recovered>(Ledger.Snapshot.Instance, timeout);
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-b"), timeout);
                last = await actor.Ask<Recovered>(Ledger.Snapshot.Instance, timeout);
                break;
            case 4:
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-a"), timeout);
                last = await actor.Ask<Recovered>(new Ledger.Add($"{salt}-b"), timeout);
                await actor.Ask<Recovered>(Ledger.DeleteEvents.Instance, timeout);
                // After a restart nothing of it is left but its numbering.
                last = last with { Entries = string.Empty };
                break;
        }

        return last;
    }

    private static ActorSystem NewSystem(PersistenceSettings settings, bool batched)
    {
        var persistence = PersistenceConfig.For(settings);
        if (!batched)
        {
            persistence = ConfigurationFactory.ParseString("""
                akka.persistence.journal.sql.class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                akka.persistence.snapshot-store.sql.class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                """).WithFallback(persistence);
        }

        var config = ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.max-concurrent-recoveries = 400
            """).WithFallback(persistence);
        var setup = PersistenceConfig.SetupFor(settings);
        var bootstrap = BootstrapSetup.Create().WithConfig(config);
        var system = setup is null
            ? ActorSystem.Create("batched-" + Guid.NewGuid().ToString("N")[..8], bootstrap)
            : ActorSystem.Create("batched-" + Guid.NewGuid().ToString("N")[..8], bootstrap.And(setup));

        // Akka's scheduler starts on its first use, on the thread pool, while that first caller blocks
        // until it has: when the first use is hundreds of actors starting their recoveries at once (a
        // bare system has no timer of its own before), every pool thread blocked there and the
        // scheduler's start queued behind them for minutes. A node's cluster starts it at once.
        system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });
        return system;
    }

    public sealed record Recovered(string Id, long SequenceNr, string Entries);

    /// <summary>A persistent actor whose whole state is the list of entries it journaled.</summary>
    private sealed class Ledger : ReceivePersistentActor
    {
        private readonly List<string> _entries = [];
        private IActorRef? _waiting;
        private bool _pruning;

        public Ledger(string id)
        {
            PersistenceId = id;
            Recover<SnapshotOffer>(offer =>
            {
                _entries.Clear();
                _entries.AddRange(((string)offer.Snapshot).Split(',', StringSplitOptions.RemoveEmptyEntries));
            });
            Recover<string>(_entries.Add);
            Command<Report>(_ => Sender.Tell(State()));
            Command<Add>(add => Persist(add.Entry, entry =>
            {
                _entries.Add(entry);
                Sender.Tell(State());
            }));
            Command<Snapshot>(_ =>
            {
                _waiting = Sender;
                SaveSnapshot(string.Join(',', _entries));
            });
            Command<SnapshotAndPrune>(_ =>
            {
                _waiting = Sender;
                _pruning = true;
                SaveSnapshot(string.Join(',', _entries));
            });
            Command<SaveSnapshotSuccess>(saved =>
            {
                if (_pruning)
                {
                    // As a sensor does: every snapshot before this one goes.
                    DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr, saved.Metadata.Timestamp.AddTicks(-1)));
                    return;
                }

                _waiting?.Tell(State());
            });
            Command<DeleteSnapshotsSuccess>(_ => _waiting?.Tell(State()));
            Command<SaveSnapshotFailure>(failed => _waiting?.Tell(new Status.Failure(failed.Cause)));
            Command<DeleteSnapshotsFailure>(failed => _waiting?.Tell(new Status.Failure(failed.Cause)));
            Command<DeleteEvents>(_ =>
            {
                _waiting = Sender;
                DeleteMessages(LastSequenceNr);
            });
            Command<DeleteMessagesSuccess>(_ => _waiting?.Tell(State()));
        }

        public override string PersistenceId { get; }

        private Recovered State() => new(PersistenceId, LastSequenceNr, string.Join(',', _entries));

        public sealed record Add(string Entry);

        public sealed class Report
        {
            public static readonly Report Instance = new();
        }

        public sealed class Snapshot
        {
            public static readonly Snapshot Instance = new();
        }

        public sealed class SnapshotAndPrune
        {
            public static readonly SnapshotAndPrune Instance = new();
        }

        public sealed class DeleteEvents
        {
            public static readonly DeleteEvents Instance = new();
        }
    }
}

public sealed class BatchedSqlStoresOnSqliteSpecs : BatchedSqlStoresSpecsBase, IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "anomaly-actors-batched-stores", Guid.NewGuid().ToString("N"));

    protected override Task<PersistenceSettings> NewStoreAsync() =>
        Task.FromResult(new PersistenceSettings(PersistenceProvider.Sqlite, Path.Combine(_directory, "node.db"), "normal", string.Empty));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

[Collection(PostgresCollection.Name)]
public sealed class BatchedSqlStoresOnPostgresSpecs(PostgresServer postgres) : BatchedSqlStoresSpecsBase
{
    protected override async Task<PersistenceSettings> NewStoreAsync() =>
        new(PersistenceProvider.PostgreSql, string.Empty, "normal", await postgres.CreateDatabaseAsync());
}

using Akka.Persistence;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Db;
using Akka.Persistence.Sql.Snapshot;
using LinqToDB;
using LinqToDB.Async;

namespace AnomalyActors.Node.Persistence;

/// <summary>
/// Akka.Persistence.Sql's snapshot store, with the latest-snapshot loads of recovering actors
/// answered in batches: one query for every persistence id waiting instead of a connection, a
/// transaction and a freshly translated query per actor, which is what bounded a node's cold start
/// (a fleet of 100,000 sensors recovers 100,000 snapshots; profiled, the per-load path of the plugin
/// took most of the node's CPU). Writes, deletes and loads with other criteria are the plugin's own.
/// Reads need none of the per-connection set-up that writes get (SQLite's synchronous mode and busy
/// timeout): the connection string in the plugin's configuration is enough for them.
/// </summary>
public sealed class BatchedSqlSnapshotStore : SqlSnapshotStore
{
    private readonly BatchedLookup<SnapshotAnswer> _latest;

    public BatchedSqlSnapshotStore(Akka.Configuration.Config snapshotConfig)
        : base(snapshotConfig)
    {
        var settings = new SnapshotConfig(snapshotConfig.WithFallback(SqlPersistence.DefaultSnapshotConfiguration));
        var connections = new AkkaPersistenceDataConnectionFactory(settings);
        var serialization = Context.System.Serialization;
        var longRows = new ByteArrayLongSnapshotSerializer(serialization, settings);
        var dateTimeRows = new ByteArrayDateTimeSnapshotSerializer(serialization, settings);
        _latest = new BatchedLookup<SnapshotAnswer>((ids, cancel) => LoadLatest(connections, longRows, dateTimeRows, ids, cancel));
    }

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken = default)
    {
        // The plugin itself reads only the maximum bounds of a criteria; so does this.
        if (criteria.MaxSequenceNr != long.MaxValue || criteria.MaxTimeStamp != DateTime.MaxValue)
        {
            return base.LoadAsync(persistenceId, criteria, cancellationToken);
        }

        return Latest(persistenceId);
    }

    private async Task<SelectedSnapshot?> Latest(string persistenceId)
    {
        var answer = await _latest.Get(persistenceId).ConfigureAwait(false);
        if (answer.Error is { } error)
        {
            throw error;
        }

        // No snapshot: the store's contract is a null result.
        return answer.Snapshot;
    }

    protected override void PostStop()
    {
        _latest.Dispose();
        base.PostStop();
    }

    private static async Task<IReadOnlyDictionary<string, SnapshotAnswer>> LoadLatest(
        AkkaPersistenceDataConnectionFactory connections,
        ByteArrayLongSnapshotSerializer longRows,
        ByteArrayDateTimeSnapshotSerializer dateTimeRows,
        IReadOnlyList<string> persistenceIds,
        CancellationToken cancel)
    {
        var answers = new Dictionary<string, SnapshotAnswer>(persistenceIds.Count, StringComparer.Ordinal);
        await using var connection = connections.GetConnection();
        // Older snapshots of an id may still be there (an actor deletes them after its next save
        // succeeded); the highest sequence number wins, as in the plugin's own query.
        if (connection.UseDateTime)
        {
            var rows = await connection.GetTable<DateTimeSnapshotRow>()
                .Where(r => persistenceIds.Contains(r.PersistenceId))
                .ToListAsync(cancel)
                .ConfigureAwait(false);
            foreach (var row in Latest(rows, r => r.PersistenceId, r => r.SequenceNumber))
            {
                var read = dateTimeRows.Deserialize(row);
                answers[row.PersistenceId] = read.IsSuccess ? new SnapshotAnswer(read.Success.Value, null) : new SnapshotAnswer(null, read.Failure.Value);
            }
        }
        else
        {
            var rows = await connection.GetTable<LongSnapshotRow>()
                .Where(r => persistenceIds.Contains(r.PersistenceId))
                .ToListAsync(cancel)
                .ConfigureAwait(false);
            foreach (var row in Latest(rows, r => r.PersistenceId, r => r.SequenceNumber))
            {
                var read = longRows.Deserialize(row);
                answers[row.PersistenceId] = read.IsSuccess ? new SnapshotAnswer(read.Success.Value, null) : new SnapshotAnswer(null, read.Failure.Value);
            }
        }

        return answers;
    }

    private static IEnumerable<TRow> Latest<TRow>(List<TRow> rows, Func<TRow, string> id, Func<TRow, long> sequenceNr)
    {
        var latest = new Dictionary<string, TRow>(rows.Count, StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (!latest.TryGetValue(id(row), out var known) || sequenceNr(row) > sequenceNr(known))
            {
                latest[id(row)] = row;
            }
        }

        return latest.Values;
    }

    private readonly record struct SnapshotAnswer(SelectedSnapshot? Snapshot, Exception? Error);
}

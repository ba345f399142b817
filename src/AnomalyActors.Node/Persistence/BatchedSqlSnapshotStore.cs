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
    // Snapshots can be large (a Random Cut Forest is about a megabyte): batches stay small enough that
    // one query's rows are never a burden, yet cut the queries a hundredfold.
    private const int MaxBatch = 100;

    private readonly BatchedLookup<object> _latest;
    private readonly ByteArrayLongSnapshotSerializer _longRows;
    private readonly ByteArrayDateTimeSnapshotSerializer _dateTimeRows;

    public BatchedSqlSnapshotStore(Akka.Configuration.Config snapshotConfig)
        : base(snapshotConfig)
    {
        var settings = new SnapshotConfig(snapshotConfig.WithFallback(SqlPersistence.DefaultSnapshotConfiguration));
        var connections = new AkkaPersistenceDataConnectionFactory(settings);
        var serialization = Context.System.Serialization;
        _longRows = new ByteArrayLongSnapshotSerializer(serialization, settings);
        _dateTimeRows = new ByteArrayDateTimeSnapshotSerializer(serialization, settings);
        _latest = new BatchedLookup<object>((ids, cancel) => LoadLatestRows(connections, ids, cancel), MaxBatch);
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
        // Each actor's snapshot is deserialized here, on the thread pool, not in the query's loop:
        // large states decode side by side while the next batch is read.
        var row = await _latest.Get(persistenceId).ConfigureAwait(false);
        var read = row switch
        {
            null => null,
            LongSnapshotRow longRow => _longRows.Deserialize(longRow),
            DateTimeSnapshotRow dateTimeRow => _dateTimeRows.Deserialize(dateTimeRow),
            _ => throw new InvalidOperationException("Unexpected snapshot row " + row.GetType()),
        };

        // No snapshot: the store's contract is a null result.
        return read is null ? null : read.IsSuccess ? read.Success.Value : throw read.Failure.Value;
    }

    protected override void PostStop()
    {
        _latest.Dispose();
        base.PostStop();
    }

    private static async Task<IReadOnlyDictionary<string, object>> LoadLatestRows(
        AkkaPersistenceDataConnectionFactory connections,
        IReadOnlyList<string> persistenceIds,
        CancellationToken cancel)
    {
        await using var connection = connections.GetConnection();
        // Older snapshots of an id may still be there (an actor deletes them after its next save
        // succeeded); the highest sequence number wins, as in the plugin's own query.
        if (connection.UseDateTime)
        {
            var rows = await connection.GetTable<DateTimeSnapshotRow>()
                .Where(r => persistenceIds.Contains(r.PersistenceId))
                .ToListAsync(cancel)
                .ConfigureAwait(false);
            return Latest(rows, r => r.PersistenceId, r => r.SequenceNumber);
        }
        else
        {
            var rows = await connection.GetTable<LongSnapshotRow>()
                .Where(r => persistenceIds.Contains(r.PersistenceId))
                .ToListAsync(cancel)
                .ConfigureAwait(false);
            return Latest(rows, r => r.PersistenceId, r => r.SequenceNumber);
        }
    }

    private static Dictionary<string, object> Latest<TRow>(List<TRow> rows, Func<TRow, string> id, Func<TRow, long> sequenceNr)
        where TRow : class
    {
        var latest = new Dictionary<string, object>(rows.Count, StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (!latest.TryGetValue(id(row), out var known) || sequenceNr(row) > sequenceNr((TRow)known))
            {
                latest[id(row)] = row;
            }
        }

        return latest;
    }
}

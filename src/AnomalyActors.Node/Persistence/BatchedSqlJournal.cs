using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Db;
using Akka.Persistence.Sql.Journal;
using Akka.Persistence.Sql.Journal.Types;
using LinqToDB;
using LinqToDB.Async;

namespace AnomalyActors.Node.Persistence;

/// <summary>
/// Akka.Persistence.Sql's journal, with the highest-sequence-number reads that start every
/// recovery answered in batches (one grouped query for every persistence id waiting; see
/// <see cref="BatchedSqlSnapshotStore"/> for why). Writes, replays and deletes are the plugin's own.
/// As the plugin does, a read for an id whose write is still under way waits for that write. In the
/// plugin's delete-compatibility mode (a metadata table also holds sequence numbers) every read is
/// the plugin's own.
/// </summary>
public sealed class BatchedSqlJournal : SqlWriteJournal
{
    private readonly BatchedLookup<long>? _highest;

    // Writes under way by persistence id: a read of an id's highest sequence number waits for them.
    private readonly Dictionary<string, Task> _writing = new(StringComparer.Ordinal);

    public BatchedSqlJournal(Akka.Configuration.Config journalConfig)
        : base(journalConfig)
    {
        var settings = new JournalConfig(journalConfig.WithFallback(SqlPersistence.DefaultJournalConfiguration));
        if (!settings.DaoConfig.SqlCommonCompatibilityMode)
        {
            var connections = new AkkaPersistenceDataConnectionFactory(settings);
            _highest = new BatchedLookup<long>((ids, cancel) => ReadHighest(connections, ids, cancel));
        }
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken = default)
    {
        if (_highest is null)
        {
            return await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken).ConfigureAwait(false);
        }

        if (_writing.TryGetValue(persistenceId, out var write))
        {
            // Whether it succeeded does not matter here, only that it is over.
            await write.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        }

        var highest = await _highest.Get(persistenceId).ConfigureAwait(false);
        // The plugin's query counts only numbers above fromSequenceNr (when it is not 0) and answers 0 when there is none.
        return fromSequenceNr == 0 || highest > fromSequenceNr ? highest : 0;
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken = default)
    {
        var writes = messages as IReadOnlyCollection<AtomicWrite> ?? messages.ToList();
        var written = base.WriteMessagesAsync(writes, cancellationToken);
        if (_highest is not null)
        {
            var ids = writes.Select(w => w.PersistenceId).Distinct(StringComparer.Ordinal).ToArray();
            foreach (var id in ids)
            {
                _writing[id] = written;
            }

            var self = Self;
            written.ContinueWith(_ => self.Tell(new WriteOver(ids, written)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return written;
    }

    protected override bool ReceivePluginInternal(object message)
    {
        if (message is WriteOver over)
        {
            foreach (var id in over.PersistenceIds)
            {
                if (_writing.TryGetValue(id, out var latest) && ReferenceEquals(latest, over.Write))
                {
                    _writing.Remove(id);
                }
            }

            return true;
        }

        return base.ReceivePluginInternal(message);
    }

    protected override void PostStop()
    {
        _highest?.Dispose();
        base.PostStop();
    }

    private static async Task<IReadOnlyDictionary<string, long>> ReadHighest(
        AkkaPersistenceDataConnectionFactory connections,
        IReadOnlyList<string> persistenceIds,
        CancellationToken cancel)
    {
        await using var connection = connections.GetConnection();
        // Deleting events keeps the highest one (marked deleted), so the maximum over the rows is
        // the highest number ever written, as the plugin's own query finds it.
        var rows = await connection.GetTable<JournalRow>()
            .Where(r => persistenceIds.Contains(r.PersistenceId))
            .GroupBy(r => r.PersistenceId)
            .Select(g => new { PersistenceId = g.Key, Highest = g.Max(r => r.SequenceNumber) })
            .ToListAsync(cancel)
            .ConfigureAwait(false);
        return rows.ToDictionary(r => r.PersistenceId, r => r.Highest, StringComparer.Ordinal);
    }

    private sealed record WriteOver(string[] PersistenceIds, Task Write);
}

using System.Security.Cryptography;
using System.Text;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;

namespace AnomalyActors.Archive.Collecting;

/// <summary>
/// The archive of a node without Kafka: sensors record their scored readings, and the results sink
/// its alerts, in two result logs in the data directory (<see cref="IResultsArchive"/>), and a
/// background loop collects each log into the archive root, rolling large files by size or age. A
/// sensor snapshots only once its records are with the operating system, so a crash loses nothing:
/// the log holds every row the archive has not committed (or the sensor scores it again), and the
/// files of an uncommitted roll are removed and written again from it with the same offsets.
/// Stopping collects what is left and commits it.
/// </summary>
public sealed class LocalArchive : IResultsArchive, IAsyncDisposable
{
    private readonly LogFeed<EnrichedRow> _enriched;
    private readonly LogFeed<AlertRow> _alerts;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeSpan _idlePoll;
    private readonly Action<Exception> _failed;
    private readonly Retention _retention;
    // Sensors record from any dispatcher thread; each encodes in a buffer of its own thread.
    [ThreadStatic]
    private static byte[]? _scratch;
    private Task _loop = Task.CompletedTask;

    private LocalArchive(LogFeed<EnrichedRow> enriched, LogFeed<AlertRow> alerts, TimeSpan idlePoll, Action<Exception> failed, Retention retention)
    {
        _retention = retention;
        _enriched = enriched;
        _alerts = alerts;
        _idlePoll = idlePoll;
        _failed = failed;
    }

    /// <summary>The source name this node's files carry.</summary>
    public string Source => _enriched.Archive.Source;

    /// <summary>Rows collected into committed files since start.</summary>
    public long RowsCommitted => _enriched.Archive.RowsCommitted + _alerts.Archive.RowsCommitted;

    /// <summary>Files committed since start.</summary>
    public long FilesCommitted => _enriched.Archive.FilesCommitted + _alerts.Archive.FilesCommitted;

    /// <summary>The default source of a node: its machine and data directory, stable across restarts and unique per data directory.</summary>
    public static string DefaultSource(string site, string dataDirectory)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory)));
        var machine = new string(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
        return $"{site}.{machine}-{Convert.ToHexStringLower(hash, 0, 4)}";
    }

    /// <summary>
    /// Opens the logs under <paramref name="logDirectory"/>, recovers the archive's state for
    /// <paramref name="source"/> and starts collecting.
    /// </summary>
    /// <param name="failed">Told when collecting fails (the loop stops; the logs keep the rows).</param>
    public static async Task<LocalArchive> StartAsync(string root, string logDirectory, string source, ArchiveOptions options, TimeSpan idlePoll, Action<Exception> failed)
    {
        var enriched = await LogFeed<EnrichedRow>.OpenAsync(root, Path.Combine(logDirectory, "enriched"), EnrichedDataset.Instance, source, options, ResultCodec.ReadEnriched).ConfigureAwait(false);
        LogFeed<AlertRow> alerts;
        try
        {
            alerts = await LogFeed<AlertRow>.OpenAsync(root, Path.Combine(logDirectory, "alerts"), AlertsDataset.Instance, source, options, ResultCodec.ReadAlert).ConfigureAwait(false);
        }
        catch
        {
            await enriched.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var archive = new LocalArchive(enriched, alerts, idlePoll, failed, new Retention(root, options.RetentionDays));
        // A thread of its own: a backlog of rows keeps the collector busy for long stretches, which
        // on the thread pool would hold a thread the actors need.
        archive._loop = Task.Factory.StartNew(archive.Collect, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return archive;
    }

    // A slice's records are framed here, on the sensor's thread, and enter the log in one copy.
    public long Record(string sensorId, string detector, IReadOnlyList<ScoredReading> readings)
    {
        if (readings.Count == 0)
        {
            return -1;
        }

        var frame = ResultLog.HeaderBytes + ResultCodec.MaxEnrichedBytes(sensorId, detector);
        var scratch = Scratch(frame * readings.Count);
        var used = 0;
        for (var i = 0; i < readings.Count; i++)
        {
            var into = scratch.AsSpan(used);
            var length = ResultCodec.WriteEnriched(into[ResultLog.HeaderBytes..], sensorId, detector, readings[i]);
            ResultLog.Seal(into, into.Slice(ResultLog.HeaderBytes, length));
            used += ResultLog.HeaderBytes + length;
        }

        return _enriched.Log.AppendSealed(scratch.AsSpan(0, used), readings.Count);
    }

    public void EnsureDurable(long position)
    {
        if (position >= _enriched.Log.Durable)
        {
            _enriched.Log.Flush();
        }
    }

    public void Record(IEpisodeEvent alert)
    {
        var scratch = Scratch(ResultCodec.MaxAlertBytes(alert));
        var length = ResultCodec.WriteAlert(scratch, alert);
        _alerts.Log.Append(scratch.AsSpan(0, length));
    }

    public void Flush()
    {
        _enriched.Log.Flush();
        _alerts.Log.Flush();
    }

    private static byte[] Scratch(int need)
    {
        if (_scratch is null || _scratch.Length < need)
        {
            _scratch = new byte[Math.Max(need, 4096)];
        }

        return _scratch;
    }

    /// <summary>Collects every row recorded so far and commits it (call once the sink has stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception) when (_loop.IsCompleted)
        {
            // Failed and reported already: the logs keep what was not committed.
        }

        try
        {
            Flush();
            if (_loop.IsCompletedSuccessfully)
            {
                while (await _enriched.PumpAsync(50_000).ConfigureAwait(false) + await _alerts.PumpAsync(50_000).ConfigureAwait(false) > 0)
                {
                }

                await _enriched.CommitAsync().ConfigureAwait(false);
                await _alerts.CommitAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            await _enriched.DisposeAsync().ConfigureAwait(false);
            await _alerts.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }

    /// <summary>
    /// Stops as a killed process would: collecting ends where it is, nothing more is committed and
    /// nothing cleaned up (hidden files stay), and the logs are closed. For crash tests.
    /// </summary>
    internal async Task HaltAsync()
    {
        _stopping.Cancel();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception) when (_loop.IsCompleted)
        {
            // Failed and reported already.
        }

        _enriched.Log.Dispose();
        _alerts.Log.Dispose();
        _enriched.Archive.LetGoAsIfDead();
        _alerts.Archive.LetGoAsIfDead();
    }

    // The archive's writes are synchronous (see SynchronousWrites), so waiting on them here keeps the work on this thread.
    private void Collect()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                // Rows reach the log's file when its buffer fills or a sensor snapshots; a quiet
                // node's last rows are handed over here, so they wait an idle poll at most.
                Flush();
                var read = _enriched.PumpAsync(10_000).GetAwaiter().GetResult() + _alerts.PumpAsync(10_000).GetAwaiter().GetResult();
                var now = DateTime.UtcNow;
                _enriched.CommitIfDueAsync(now).GetAwaiter().GetResult();
                _alerts.CommitIfDueAsync(now).GetAwaiter().GetResult();
                _retention.ApplyIfDue(now);
                if (read == 0)
                {
                    _stopping.Token.WaitHandle.WaitOne(_idlePoll);
                }
            }
        }
        catch (Exception e)
        {
            _failed(e);
            throw;
        }
    }
}

/// <summary>One result log being collected into one dataset of the archive.</summary>
internal sealed class LogFeed<TRow> : IAsyncDisposable
{
    public delegate TRow Decoder(ReadOnlySpan<byte> record, StreamNames names);

    private readonly Decoder _decode;
    private readonly StreamNames _names = new();
    private readonly Action<long, ReadOnlySpan<byte>> _take;
    private (long Offset, TRow Row)[] _batch = new (long, TRow)[1024];
    private int _batched;
    private long _next;

    private LogFeed(ResultLog log, SourceArchive<TRow> archive, Decoder decode, long next)
    {
        Log = log;
        Archive = archive;
        _decode = decode;
        _next = next;
        _take = Take;
    }

    public ResultLog Log { get; }

    public SourceArchive<TRow> Archive { get; }

    public static async Task<LogFeed<TRow>> OpenAsync(string root, string logDirectory, IArchiveDataset<TRow> dataset, string source, ArchiveOptions options, Decoder decode)
    {
        var archive = new SourceArchive<TRow>(root, dataset, source, options);
        var committed = await archive.RecoverAsync().ConfigureAwait(false);
        var log = ResultLog.Open(logDirectory, startAt: committed + 1);
        if (log.First > committed + 1)
        {
            log.Dispose();
            throw new InvalidDataException(
                $"The result log {logDirectory} starts at offset {log.First}, but the archive has {dataset.Name} of source '{source}' only up to offset {committed}: rows in between are missing. Was the archive root replaced? To start afresh in a new root, delete {logDirectory} (its rows are in the old root).");
        }

        if (log.Next <= committed)
        {
            log.Dispose();
            throw new InvalidDataException(
                $"The archive has {dataset.Name} of source '{source}' up to offset {committed}, but the result log {logDirectory} ends at {log.Next - 1}: the log belongs to another archive root or another source. Give this node its own source name or its old data directory.");
        }

        return new LogFeed<TRow>(log, archive, decode, committed + 1);
    }

    public async Task<int> PumpAsync(int max)
    {
        _batched = 0;
        var read = Log.Read(_next, max, _take);
        for (var i = 0; i < _batched; i++)
        {
            var adding = Archive.AddAsync(_batch[i].Offset, in _batch[i].Row);
            if (!adding.IsCompletedSuccessfully)
            {
                await adding.ConfigureAwait(false);
            }

            _next = _batch[i].Offset + 1;
            _batch[i] = default;
        }

        return read;
    }

    private void Take(long offset, ReadOnlySpan<byte> record)
    {
        if (_batched == _batch.Length)
        {
            Array.Resize(ref _batch, _batched * 2);
        }

        _batch[_batched++] = (offset, _decode(record, _names));
    }

    public Task CommitIfDueAsync(DateTime nowUtc) => Archive.RollDue(nowUtc) ? CommitAsync() : Task.CompletedTask;

    public async Task CommitAsync()
    {
        await Archive.RollAsync().ConfigureAwait(false);
        Log.DeleteBelow(Archive.Committed + 1);
    }

    public async ValueTask DisposeAsync()
    {
        await Archive.DisposeAsync().ConfigureAwait(false);
        Log.Dispose();
    }
}

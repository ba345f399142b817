using System.Globalization;
using System.Text.Json;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using Confluent.Kafka;

namespace AnomalyActors.Archive.Collecting;

/// <summary>Where the Kafka collector reads and how it reports.</summary>
/// <param name="GroupId">The collectors' consumer group: the site's members share the partitions of both topics.</param>
/// <param name="EnrichedTopic">"" when the site publishes no enriched records.</param>
public sealed record KafkaArchiveSource(
    string BootstrapServers,
    string GroupId,
    string EnrichedTopic,
    string AlertsTopic,
    TimeSpan SessionTimeout,
    IReadOnlyDictionary<string, string> ConsumerProperties);

/// <summary>
/// The archive of a site with Kafka: one collector per member, in a consumer group of their own
/// over the site's <c>enriched</c> and <c>alerts</c> topics, each assigned partition written as
/// its own source (<c>site.topic.partition</c>, whichever member holds it). Offsets live in the
/// archive, not in the group: on assignment the partition's progress is read and the consumer
/// starts after it, and the progress advances only once the files of a roll are renamed into
/// place; a revoked partition commits its roll first, so the next member starts where it ended.
/// A group can hand a partition on before its last holder knows it lost it (a member that missed
/// its session, a rebalance that did not wait for it): the new holder waits, the partition paused,
/// until the source's lock is free, and only then reads the progress and seeks to it.
/// Records a sensor sent again after a crash (same stream and offset) are left out. A record that
/// does not read as a result is counted and reported, and skipped.
/// </summary>
public sealed class KafkaArchiveCollector : IAsyncDisposable
{
    private readonly string _root;
    private readonly string _site;
    private readonly ArchiveOptions _options;
    private readonly KafkaArchiveSource _source;
    private readonly Action<string> _report;
    private readonly Dictionary<TopicPartition, IPartitionFeed> _feeds = [];

    // Assigned partitions whose source another writer still holds, and since when they wait.
    private readonly Dictionary<TopicPartition, Waiting> _waiting = [];

    // The offset each collected partition needs next (-1: whatever its log starts with). A roll
    // commits every offset up to its last, so a record that comes after a skipped one would
    // commit the skipped one unseen: the partition is read again from the one it needs instead.
    private readonly Dictionary<TopicPartition, long> _next = [];
    private readonly Dictionary<TopicPartition, (long Needed, int Seeks)> _skips = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private long _rowsCommitted;
    private long _filesCommitted;
    private long _rejected;
    private long _recordsGone;

    private KafkaArchiveCollector(string root, string site, ArchiveOptions options, KafkaArchiveSource source, Action<string> report)
    {
        _root = root;
        _site = site;
        _options = options;
        _source = source;
        _report = report;
        _thread = new Thread(Run) { IsBackground = true, Name = "archive-collector" };
    }

    public long RowsCommitted => Interlocked.Read(ref _rowsCommitted);

    public long FilesCommitted => Interlocked.Read(ref _filesCommitted);

    /// <summary>Records that did not read as results (skipped).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Records the log deleted before they were archived (its retention ran out first).</summary>
    public long RecordsGone => Interlocked.Read(ref _recordsGone);

    /// <param name="report">Told about failures and rejected records (the collector goes on).</param>
    public static KafkaArchiveCollector Start(string root, string site, ArchiveOptions options, KafkaArchiveSource source, Action<string> report)
    {
        var collector = new KafkaArchiveCollector(root, site, options, source, report);
        collector._thread.Start();
        return collector;
    }

    /// <summary>Commits what the member holds, leaves the group and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.Run(() => _thread.Join()).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private void Run()
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                Collect();
                return;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                // Disk full, root unreachable, broker gone for good: start over from the archive's progress.
                _report($"The archive collector failed ({e.GetType().Name}: {e.Message}); starting again in {backoff.TotalSeconds:0} s from the archive's progress");
                AbandonAll();
                _stopping.Token.WaitHandle.WaitOne(backoff);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    private void Collect()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _source.BootstrapServers,
            GroupId = _source.GroupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = (int)_source.SessionTimeout.TotalMilliseconds,
        };
        foreach (var (key, value) in _source.ConsumerProperties)
        {
            config.Set(key, value);
        }

        using var consumer = new ConsumerBuilder<string?, byte[]>(config)
            .SetValueDeserializer(Deserializers.ByteArray)
            .SetPartitionsAssignedHandler((_, assigned) => assigned.Select(Assign).ToList())
            .SetPartitionsRevokedHandler((_, revoked) =>
            {
                foreach (var partition in revoked)
                {
                    Release(partition.TopicPartition, commit: true);
                }
            })
            .SetPartitionsLostHandler((_, lost) =>
            {
                // Another member may hold them already: nothing of this member's roll may commit.
                foreach (var partition in lost)
                {
                    Release(partition.TopicPartition, commit: false);
                }
            })
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal)
                {
                    _report($"The archive collector's consumer failed: {error.Reason}");
                }
            })
            .Build();
        var topics = new List<string> { _source.AlertsTopic };
        if (_source.EnrichedTopic.Length > 0)
        {
            topics.Add(_source.EnrichedTopic);
        }

        consumer.Subscribe(topics);
        var retention = new Retention(_root, _options.RetentionDays);
        var stoppedCleanly = false;
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (result?.Message is not null && _feeds.TryGetValue(result.TopicPartition, out var feed) && feed.Taken && InSequence(consumer, result.TopicPartitionOffset))
                {
                    _next[result.TopicPartition] = result.Offset.Value + 1;
                    if (!feed.Add(result.Offset.Value, result.Message.Value, out var reason))
                    {
                        Interlocked.Increment(ref _rejected);
                        _report($"Archive: record {result.TopicPartitionOffset} is not a result record and is skipped: {reason}");
                    }
                }

                var now = DateTime.UtcNow;
                if (_waiting.Count > 0)
                {
                    TakeWaiting(consumer, now);
                }

                foreach (var due in _feeds.Values.Where(f => f.Taken && f.RollDue(now)).ToList())
                {
                    Commit(due);
                }

                retention.ApplyIfDue(now);
            }

            foreach (var feed in _feeds.Values.Where(f => f.Taken))
            {
                Commit(feed);
            }

            stoppedCleanly = true;
        }
        finally
        {
            if (!stoppedCleanly)
            {
                // After a failure no roll under way may commit: a row may have been counted into
                // its offsets without reaching its files. The next holder reads from the progress.
                AbandonAll();
            }

            // Leaving the group revokes the partitions (their rolls are committed above).
            consumer.Close();
            AbandonAll();
        }
    }

    private TopicPartitionOffset Assign(TopicPartition partition)
    {
        // Assigned again without a revocation in between: the roll under way goes, the progress decides.
        Release(partition, commit: false);
        var source = $"{_site}.{partition.Topic}.{partition.Partition.Value}";
        IPartitionFeed feed = partition.Topic == _source.AlertsTopic
            ? new PartitionFeed<AlertRow>(new SourceArchive<AlertRow>(_root, AlertsDataset.Instance, source, _options), ReadAlert)
            : new PartitionFeed<EnrichedRow>(new SourceArchive<EnrichedRow>(_root, EnrichedDataset.Instance, source, _options), ReadEnriched);
        _feeds[partition] = feed;
        if (!feed.TryTake())
        {
            // Fetched records are dropped until the source is taken; then the partition seeks to its progress.
            _waiting[partition] = new Waiting(DateTime.UtcNow, Paused: false, Reported: DateTime.UtcNow);
            return new TopicPartitionOffset(partition, Offset.Beginning);
        }

        return new TopicPartitionOffset(partition, StartAfter(partition, feed.Recover()));
    }

    /// <summary>Where a partition's reading starts after its archive's progress (and which record it needs first).</summary>
    private Offset StartAfter(TopicPartition partition, long committed)
    {
        _next[partition] = committed >= 0 ? committed + 1 : -1;
        return committed >= 0 ? new Offset(committed + 1) : Offset.Beginning;
    }

    /// <summary>
    /// Whether a record is the one its partition's roll needs next. One delivered again (below it)
    /// is passed over. One beyond it means records were skipped: if the log no longer starts at or
    /// before the needed one (its retention deleted them before they were archived), the missing
    /// ones are counted and reported loudly and the archive goes on from where the log starts;
    /// otherwise they are still there (a fetch that resumed elsewhere after a rebalance) and the
    /// partition is read again from the needed one. Should that keep happening the offsets hold no
    /// records to read (a compacted topic, a transaction's markers): the archive goes on, saying so.
    /// </summary>
    private bool InSequence(IConsumer<string?, byte[]> consumer, TopicPartitionOffset record)
    {
        var partition = record.TopicPartition;
        var needed = _next.GetValueOrDefault(partition, -1);
        var offset = record.Offset.Value;
        if (needed < 0 || offset == needed)
        {
            return true;
        }

        if (offset < needed)
        {
            return false;
        }

        // A broker round trip, only when records were skipped.
        var start = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).Low.Value;
        if (start > needed)
        {
            // The log may have moved its start past the record in hand since it was fetched: that
            // record is kept, and whatever after it is gone too is reported with the next one.
            var resume = Math.Min(start, offset);
            Interlocked.Add(ref _recordsGone, resume - needed);
            _skips.Remove(partition);
            _report($"Archive: {partition} lost records {needed} to {resume - 1} before they were archived: the log deleted them (its retention is shorter than the archive fell behind); the archive goes on from {resume}");
            if (offset == resume)
            {
                return true;
            }

            _next[partition] = resume;
            consumer.Seek(new TopicPartitionOffset(partition, new Offset(resume)));
            return false;
        }

        var seeks = _skips.TryGetValue(partition, out var skip) && skip.Needed == needed ? skip.Seeks : 0;
        if (seeks < 3)
        {
            _skips[partition] = (needed, seeks + 1);
            _report($"Archive: {partition} delivered offset {offset} where {needed} was next; reading it again from {needed}");
            consumer.Seek(new TopicPartitionOffset(partition, new Offset(needed)));
            return false;
        }

        _skips.Remove(partition);
        _report($"Archive: {partition} holds no records to read from offset {needed} to {offset - 1} though the log starts at {start} (compacted, or a transaction's markers); the archive goes on from {offset}");
        return true;
    }

    /// <summary>Pauses the partitions that wait (they are assigned by now) and starts those whose source came free.</summary>
    private void TakeWaiting(IConsumer<string?, byte[]> consumer, DateTime now)
    {
        foreach (var (partition, waiting) in _waiting.ToList())
        {
            if (!waiting.Paused)
            {
                consumer.Pause([partition]);
                _waiting[partition] = waiting with { Paused = true };
            }

            var feed = _feeds[partition];
            if (feed.TryTake())
            {
                _waiting.Remove(partition);
                consumer.Seek(new TopicPartitionOffset(partition, StartAfter(partition, feed.Recover())));
                consumer.Resume([partition]);
                _report($"Archive: {partition} collected from the archive's progress after {(now - waiting.Since).TotalSeconds:0.0} s waiting for its last writer");
            }
            else if (now - waiting.Reported >= TimeSpan.FromSeconds(30))
            {
                _waiting[partition] = _waiting[partition] with { Reported = now };
                _report($"Archive: {partition} still waits for another writer of its source to let it go ({(now - waiting.Since).TotalSeconds:0} s); a member the group moved on from lets go once it learns it, or when it stops");
            }
        }
    }

    private void Release(TopicPartition partition, bool commit)
    {
        _waiting.Remove(partition);
        _next.Remove(partition);
        _skips.Remove(partition);
        if (!_feeds.Remove(partition, out var feed))
        {
            return;
        }

        try
        {
            if (commit && feed.Taken)
            {
                Commit(feed);
            }
        }
        finally
        {
            feed.Dispose();
        }
    }

    private void Commit(IPartitionFeed feed)
    {
        var (rows, files) = feed.Roll();
        Interlocked.Add(ref _rowsCommitted, rows);
        Interlocked.Add(ref _filesCommitted, files);
    }

    private void AbandonAll()
    {
        foreach (var feed in _feeds.Values)
        {
            feed.Dispose();
        }

        _feeds.Clear();
        _waiting.Clear();
        _next.Clear();
        _skips.Clear();
    }

    /// <summary>An enriched record as the results sink publishes it (<see cref="ResultRecords.EnrichedJson"/>).</summary>
    public static EnrichedRow ReadEnriched(byte[] value)
    {
        using var json = JsonDocument.Parse(value);
        var r = json.RootElement;
        return new EnrichedRow(
            r.GetProperty("ts").GetInt64(),
            Text(r, "site"),
            Text(r, "device"),
            Text(r, "metric"),
            r.GetProperty("value").GetDouble(),
            NumberOrNaN(r, "prediction"),
            NumberOrNaN(r, "low"),
            NumberOrNaN(r, "high"),
            r.GetProperty("score").GetDouble(),
            r.GetProperty("anomaly").GetBoolean(),
            r.TryGetProperty("episodeId", out var episode) && episode.ValueKind == JsonValueKind.String ? episode.GetString() : null,
            r.GetProperty("offset").GetInt64(),
            r.TryGetProperty("detector", out var detector) && detector.ValueKind == JsonValueKind.String ? detector.GetString()! : "unknown",
            ModelOf(r));
    }

    /// <summary>An alert as the results sink publishes it (<see cref="ResultRecords.AlertJson"/>).</summary>
    public static AlertRow ReadAlert(byte[] value)
    {
        using var json = JsonDocument.Parse(value);
        var r = json.RootElement;
        var open = Text(r, "type") == ResultRecords.Open;
        var grade = open ? r.GetProperty("grade").GetDouble() : r.GetProperty("peakGrade").GetDouble();
        var time = DateTimeOffset.Parse(Text(r, "timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        return new AlertRow(
            time.ToUnixTimeMilliseconds(),
            Text(r, "site"),
            Text(r, "device"),
            Text(r, "metric"),
            Text(r, "alertId"),
            open ? ResultRecords.Open : ResultRecords.Close,
            open ? ResultRecords.Severity(grade) : "cleared",
            r.GetProperty("episode").GetInt64(),
            r.GetProperty("offset").GetInt64(),
            open ? r.GetProperty("value").GetDouble() : double.NaN,
            grade,
            open ? -1 : r.GetProperty("outOfBandReadings").GetInt64(),
            ModelOf(r));
    }

    private static string? ModelOf(JsonElement record) =>
        record.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String && model.GetString() is { Length: > 0 } version ? version : null;

    private static string Text(JsonElement element, string name) =>
        element.GetProperty(name).GetString() is { Length: > 0 } text ? text : throw new FormatException($"'{name}' is empty");

    private static double NumberOrNaN(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;

    private sealed record Waiting(DateTime Since, bool Paused, DateTime Reported);

    private interface IPartitionFeed : IDisposable
    {
        bool Taken { get; }

        bool TryTake();

        long Recover();

        bool Add(long offset, byte[] value, out string? reason);

        bool RollDue(DateTime nowUtc);

        /// <summary>Commits the roll under way; returns the rows and files it added.</summary>
        (long Rows, long Files) Roll();
    }

    /// <summary>One partition's rows into its source. Runs on the collector's thread only.</summary>
    private sealed class PartitionFeed<TRow>(SourceArchive<TRow> archive, Func<byte[], TRow> read) : IPartitionFeed
    {
        public bool Taken => archive.Taken;

        public bool TryTake() => archive.TryTake();

        public long Recover() => archive.RecoverAsync().GetAwaiter().GetResult();

        public bool Add(long offset, byte[] value, out string? reason)
        {
            TRow row;
            try
            {
                row = read(value);
            }
            catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or ArgumentException)
            {
                reason = e.Message;
                return false;
            }

            reason = null;
            archive.AddAsync(offset, row).GetAwaiter().GetResult();
            return true;
        }

        public bool RollDue(DateTime nowUtc) => archive.RollDue(nowUtc);

        public (long Rows, long Files) Roll()
        {
            var (rows, files) = (archive.RowsCommitted, archive.FilesCommitted);
            archive.RollAsync().GetAwaiter().GetResult();
            return (archive.RowsCommitted - rows, archive.FilesCommitted - files);
        }

        public void Dispose() => archive.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

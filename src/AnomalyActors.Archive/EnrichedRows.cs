using Parquet;
using Parquet.Schema;

namespace AnomalyActors.Archive;

/// <summary>One scored reading as the archive keeps it.</summary>
/// <param name="TimestampMs">The reading's time, epoch milliseconds (UTC).</param>
/// <param name="AlertId">The episode the reading opens, continues or closes; null outside episodes.</param>
/// <param name="Offset">The reading's offset in the log its sensor counts (the intake partition or Kafka partition).</param>
/// <param name="Detector">What scored it: the detector configuration's fingerprint.</param>
/// <param name="Model">The global model version its stream used; null without one.</param>
public readonly record struct EnrichedRow(
    long TimestampMs,
    string Site,
    string Device,
    string Metric,
    double Value,
    double Prediction,
    double Low,
    double High,
    double Score,
    bool Anomaly,
    string? AlertId,
    long Offset,
    string Detector,
    string? Model = null);

/// <summary>A kind of rows and the Parquet columns they are written as.</summary>
public interface IArchiveDataset<TRow>
{
    /// <summary>The dataset's directory name (<c>dataset=NAME</c>) and its table in queries.</summary>
    string Name { get; }

    ParquetSchema Schema { get; }

    string SiteOf(in TRow row);

    /// <summary>
    /// The stream a row belongs to and its place in that stream (the reading's offset): a stream's
    /// rows come in increasing places, and a row at or below the last place archived is a repeat
    /// (the stream's sensor scored its readings again after a crash) and is left out.
    /// </summary>
    ((string Site, string Device, string Metric) Stream, long Place) IdentityOf(in TRow row);

    DateOnly DateOf(in TRow row);

    /// <summary>A rough size of the row in a file, for rolling by size.</summary>
    int EstimatedBytes(in TRow row);

    /// <summary>An empty buffer for a row group of this dataset's rows.</summary>
    IRowGroupBuffer<TRow> NewRowGroup();
}

/// <summary>The <c>enriched</c> dataset: every scored reading with its prediction, band, score and episode.</summary>
public sealed class EnrichedDataset : IArchiveDataset<EnrichedRow>
{
    private static readonly DateTimeDataField Time = new("time", DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Millis);
    private static readonly DataField<string> Site = new("site", nullable: false);
    private static readonly DataField<string> Device = new("device", nullable: false);
    private static readonly DataField<string> Metric = new("metric", nullable: false);
    private static readonly DataField<double> Value = new("value");
    private static readonly DataField<double> Prediction = new("prediction");
    private static readonly DataField<double> Low = new("band_low");
    private static readonly DataField<double> High = new("band_high");
    private static readonly DataField<double> Score = new("score");
    private static readonly DataField<bool> Anomaly = new("anomaly");
    private static readonly DataField<string> AlertId = new("alert_id", nullable: true);
    private static readonly DataField<long> Offset = new("offset");
    private static readonly DataField<string> Detector = new("detector", nullable: false);
    private static readonly DataField<string> Model = new("model", nullable: true);

    // After the fields: static fields are set in order, and the schema needs them.
    public static readonly EnrichedDataset Instance = new();

    private EnrichedDataset()
    {
    }

    public string Name => "enriched";

    public ParquetSchema Schema { get; } = new(Time, Site, Device, Metric, Value, Prediction, Low, High, Score, Anomaly, AlertId, Offset, Detector, Model);

    public string SiteOf(in EnrichedRow row) => row.Site;

    public ((string Site, string Device, string Metric) Stream, long Place) IdentityOf(in EnrichedRow row) => ((row.Site, row.Device, row.Metric), row.Offset);

    public DateOnly DateOf(in EnrichedRow row) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime);

    // Eight numbers and four short texts before compression.
    public int EstimatedBytes(in EnrichedRow row) =>
        8 * 8 + row.Site.Length + row.Device.Length + row.Metric.Length + (row.AlertId?.Length ?? 0) + row.Detector.Length + (row.Model?.Length ?? 0);

    public IRowGroupBuffer<EnrichedRow> NewRowGroup() => new RowGroup();

    /// <summary>
    /// Texts are kept as the memory Parquet.Net encodes from: handed strings, it copies every text
    /// column of every row group into a new array of that form first (about 3 MB a column, on the
    /// large object heap).
    /// </summary>
    private sealed class RowGroup : IRowGroupBuffer<EnrichedRow>
    {
        private readonly Column<DateTime> _times = new();
        private readonly Column<ReadOnlyMemory<char>> _sites = new();
        private readonly Column<ReadOnlyMemory<char>> _devices = new();
        private readonly Column<ReadOnlyMemory<char>> _metrics = new();
        private readonly Column<double> _values = new();
        private readonly Column<double> _predictions = new();
        private readonly Column<double> _lows = new();
        private readonly Column<double> _highs = new();
        private readonly Column<double> _scores = new();
        private readonly Column<bool> _anomalies = new();
        private readonly Column<ReadOnlyMemory<char>?> _alerts = new();
        private readonly Column<long> _offsets = new();
        private readonly Column<ReadOnlyMemory<char>> _detectors = new();
        private readonly Column<ReadOnlyMemory<char>?> _models = new();

        public int Count { get; private set; }

        public void Add(in EnrichedRow row)
        {
            var i = Count;
            _times.Set(i, DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime);
            _sites.Set(i, row.Site.AsMemory());
            _devices.Set(i, row.Device.AsMemory());
            _metrics.Set(i, row.Metric.AsMemory());
            _values.Set(i, row.Value);
            _predictions.Set(i, row.Prediction);
            _lows.Set(i, row.Low);
            _highs.Set(i, row.High);
            _scores.Set(i, row.Score);
            _anomalies.Set(i, row.Anomaly);
            _alerts.Set(i, row.AlertId?.AsMemory());
            _offsets.Set(i, row.Offset);
            _detectors.Set(i, row.Detector.AsMemory());
            _models.Set(i, row.Model?.AsMemory());
            Count = i + 1;
        }

        public async Task WriteAsync(ParquetRowGroupWriter rowGroup)
        {
            var n = Count;
            await rowGroup.WriteAsync(Time, _times.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Site, _sites.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Device, _devices.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Metric, _metrics.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Value, _values.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Prediction, _predictions.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Low, _lows.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(High, _highs.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Score, _scores.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Anomaly, _anomalies.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(AlertId, _alerts.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Offset, _offsets.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Detector, _detectors.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Model, _models.Values(n)).ConfigureAwait(false);
            // The texts' memory holds their strings (alert ids are made per row).
            _alerts.Forget(n);
            _models.Forget(n);
            Count = 0;
        }
    }
}

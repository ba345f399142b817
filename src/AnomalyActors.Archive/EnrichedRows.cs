using Parquet;
using Parquet.Schema;

namespace AnomalyActors.Archive;

/// <summary>One scored reading as the archive keeps it.</summary>
/// <param name="TimestampMs">The reading's time, epoch milliseconds (UTC).</param>
/// <param name="AlertId">The episode the reading opens, continues or closes; null outside episodes.</param>
/// <param name="Offset">The reading's offset in the log its sensor counts (the intake partition or Kafka partition).</param>
/// <param name="Detector">What scored it: the detector configuration's fingerprint (and later the model version).</param>
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
    string Detector);

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

    /// <summary>Writes the rows as one row group, every column in schema order.</summary>
    Task WriteAsync(ParquetRowGroupWriter rowGroup, IReadOnlyList<TRow> rows);
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

    // After the fields: static fields are set in order, and the schema needs them.
    public static readonly EnrichedDataset Instance = new();

    private EnrichedDataset()
    {
    }

    public string Name => "enriched";

    public ParquetSchema Schema { get; } = new(Time, Site, Device, Metric, Value, Prediction, Low, High, Score, Anomaly, AlertId, Offset, Detector);

    public string SiteOf(in EnrichedRow row) => row.Site;

    public ((string Site, string Device, string Metric) Stream, long Place) IdentityOf(in EnrichedRow row) => ((row.Site, row.Device, row.Metric), row.Offset);

    public DateOnly DateOf(in EnrichedRow row) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime);

    // Eight numbers and four short texts before compression.
    public int EstimatedBytes(in EnrichedRow row) =>
        8 * 8 + row.Site.Length + row.Device.Length + row.Metric.Length + (row.AlertId?.Length ?? 0) + row.Detector.Length;

    public async Task WriteAsync(ParquetRowGroupWriter rowGroup, IReadOnlyList<EnrichedRow> rows)
    {
        var n = rows.Count;
        var times = new DateTime[n];
        var sites = new string[n];
        var devices = new string[n];
        var metrics = new string[n];
        var values = new double[n];
        var predictions = new double[n];
        var lows = new double[n];
        var highs = new double[n];
        var scores = new double[n];
        var anomalies = new bool[n];
        var alerts = new string?[n];
        var offsets = new long[n];
        var detectors = new string[n];
        for (var i = 0; i < n; i++)
        {
            var row = rows[i];
            times[i] = DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime;
            sites[i] = row.Site;
            devices[i] = row.Device;
            metrics[i] = row.Metric;
            values[i] = row.Value;
            predictions[i] = row.Prediction;
            lows[i] = row.Low;
            highs[i] = row.High;
            scores[i] = row.Score;
            anomalies[i] = row.Anomaly;
            alerts[i] = row.AlertId;
            offsets[i] = row.Offset;
            detectors[i] = row.Detector;
        }

        await rowGroup.WriteAsync(Time, (ReadOnlyMemory<DateTime>)times).ConfigureAwait(false);
        await rowGroup.WriteAsync(Site, sites).ConfigureAwait(false);
        await rowGroup.WriteAsync(Device, devices).ConfigureAwait(false);
        await rowGroup.WriteAsync(Metric, metrics).ConfigureAwait(false);
        await rowGroup.WriteAsync(Value, (ReadOnlyMemory<double>)values).ConfigureAwait(false);
        await rowGroup.WriteAsync(Prediction, (ReadOnlyMemory<double>)predictions).ConfigureAwait(false);
        await rowGroup.WriteAsync(Low, (ReadOnlyMemory<double>)lows).ConfigureAwait(false);
        await rowGroup.WriteAsync(High, (ReadOnlyMemory<double>)highs).ConfigureAwait(false);
        await rowGroup.WriteAsync(Score, (ReadOnlyMemory<double>)scores).ConfigureAwait(false);
        await rowGroup.WriteAsync(Anomaly, (ReadOnlyMemory<bool>)anomalies).ConfigureAwait(false);
        await rowGroup.WriteAsync(AlertId, alerts!).ConfigureAwait(false);
        await rowGroup.WriteAsync(Offset, (ReadOnlyMemory<long>)offsets).ConfigureAwait(false);
        await rowGroup.WriteAsync(Detector, detectors).ConfigureAwait(false);
    }
}

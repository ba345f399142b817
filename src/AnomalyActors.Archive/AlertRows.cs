using Parquet;
using Parquet.Schema;

namespace AnomalyActors.Archive;

/// <summary>One episode transition (an alert opening or closing) as the archive keeps it.</summary>
/// <param name="Type"><c>open</c> or <c>close</c>.</param>
/// <param name="Severity">minor / major / critical for an open, cleared for a close.</param>
/// <param name="Value">The reading that opened the episode; NaN for a close (written as null).</param>
/// <param name="Grade">The opening grade, or the peak grade of the closed episode.</param>
/// <param name="OutOfBandReadings">How many readings the closed episode held; -1 for an open (written as null).</param>
public readonly record struct AlertRow(
    long TimestampMs,
    string Site,
    string Device,
    string Metric,
    string AlertId,
    string Type,
    string Severity,
    long Episode,
    long Offset,
    double Value,
    double Grade,
    long OutOfBandReadings);

/// <summary>The <c>alerts</c> dataset: every episode open and close.</summary>
public sealed class AlertsDataset : IArchiveDataset<AlertRow>
{
    private static readonly DateTimeDataField Time = new("time", DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Millis);
    private static readonly DataField<string> Site = new("site", nullable: false);
    private static readonly DataField<string> Device = new("device", nullable: false);
    private static readonly DataField<string> Metric = new("metric", nullable: false);
    private static readonly DataField<string> AlertId = new("alert_id", nullable: false);
    private static readonly DataField<string> Type = new("type", nullable: false);
    private static readonly DataField<string> Severity = new("severity", nullable: false);
    private static readonly DataField<long> Episode = new("episode");
    private static readonly DataField<long> Offset = new("offset");
    private static readonly DataField<double?> Value = new("value");
    private static readonly DataField<double> Grade = new("grade");
    private static readonly DataField<long?> OutOfBand = new("out_of_band_readings");

    public static readonly AlertsDataset Instance = new();

    private AlertsDataset()
    {
    }

    public string Name => "alerts";

    public ParquetSchema Schema { get; } = new(Time, Site, Device, Metric, AlertId, Type, Severity, Episode, Offset, Value, Grade, OutOfBand);

    public string SiteOf(in AlertRow row) => row.Site;

    // An episode opens and closes on different readings, so the reading's offset tells repeats.
    public ((string Site, string Device, string Metric) Stream, long Place) IdentityOf(in AlertRow row) => ((row.Site, row.Device, row.Metric), row.Offset);

    public DateOnly DateOf(in AlertRow row) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime);

    public int EstimatedBytes(in AlertRow row) =>
        6 * 8 + row.Site.Length + row.Device.Length + row.Metric.Length + row.AlertId.Length + row.Type.Length + row.Severity.Length;

    public async Task WriteAsync(ParquetRowGroupWriter rowGroup, IReadOnlyList<AlertRow> rows)
    {
        var n = rows.Count;
        var times = new DateTime[n];
        var sites = new string[n];
        var devices = new string[n];
        var metrics = new string[n];
        var ids = new string[n];
        var types = new string[n];
        var severities = new string[n];
        var episodes = new long[n];
        var offsets = new long[n];
        var values = new double?[n];
        var grades = new double[n];
        var outOfBand = new long?[n];
        for (var i = 0; i < n; i++)
        {
            var row = rows[i];
            times[i] = DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime;
            sites[i] = row.Site;
            devices[i] = row.Device;
            metrics[i] = row.Metric;
            ids[i] = row.AlertId;
            types[i] = row.Type;
            severities[i] = row.Severity;
            episodes[i] = row.Episode;
            offsets[i] = row.Offset;
            values[i] = double.IsFinite(row.Value) ? row.Value : null;
            grades[i] = row.Grade;
            outOfBand[i] = row.OutOfBandReadings >= 0 ? row.OutOfBandReadings : null;
        }

        await rowGroup.WriteAsync(Time, (ReadOnlyMemory<DateTime>)times).ConfigureAwait(false);
        await rowGroup.WriteAsync(Site, sites).ConfigureAwait(false);
        await rowGroup.WriteAsync(Device, devices).ConfigureAwait(false);
        await rowGroup.WriteAsync(Metric, metrics).ConfigureAwait(false);
        await rowGroup.WriteAsync(AlertId, ids).ConfigureAwait(false);
        await rowGroup.WriteAsync(Type, types).ConfigureAwait(false);
        await rowGroup.WriteAsync(Severity, severities).ConfigureAwait(false);
        await rowGroup.WriteAsync(Episode, (ReadOnlyMemory<long>)episodes).ConfigureAwait(false);
        await rowGroup.WriteAsync(Offset, (ReadOnlyMemory<long>)offsets).ConfigureAwait(false);
        await rowGroup.WriteAsync(Value, (ReadOnlyMemory<double?>)values).ConfigureAwait(false);
        await rowGroup.WriteAsync(Grade, (ReadOnlyMemory<double>)grades).ConfigureAwait(false);
        await rowGroup.WriteAsync(OutOfBand, (ReadOnlyMemory<long?>)outOfBand).ConfigureAwait(false);
    }
}

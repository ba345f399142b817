using Parquet;
using Parquet.Schema;

namespace AnomalyActors.Archive;

/// <summary>One episode transition (an alert opening or closing) as the archive keeps it.</summary>
/// <param name="Type"><c>open</c> or <c>close</c>.</param>
/// <param name="Severity">minor / major / critical for an open, cleared for a close.</param>
/// <param name="Value">The reading that opened the episode; NaN for a close (written as null).</param>
/// <param name="Grade">The opening grade, or the peak grade of the closed episode.</param>
/// <param name="OutOfBandReadings">How many readings the closed episode held; -1 for an open (written as null).</param>
/// <param name="Model">The global model version the stream used when it decided; null without one.</param>
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
    long OutOfBandReadings,
    string? Model = null);

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
    private static readonly DataField<string> Model = new("model", nullable: true);

    public static readonly AlertsDataset Instance = new();

    private AlertsDataset()
    {
    }

    public string Name => "alerts";

    public ParquetSchema Schema { get; } = new(Time, Site, Device, Metric, AlertId, Type, Severity, Episode, Offset, Value, Grade, OutOfBand, Model);

    public string SiteOf(in AlertRow row) => row.Site;

    // An episode opens and closes on different readings, so the reading's offset tells repeats.
    public ((string Site, string Device, string Metric) Stream, long Place) IdentityOf(in AlertRow row) => ((row.Site, row.Device, row.Metric), row.Offset);

    public DateOnly DateOf(in AlertRow row) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime);

    public int EstimatedBytes(in AlertRow row) =>
        6 * 8 + row.Site.Length + row.Device.Length + row.Metric.Length + row.AlertId.Length + row.Type.Length + row.Severity.Length + (row.Model?.Length ?? 0);

    public IRowGroupBuffer<AlertRow> NewRowGroup() => new RowGroup();

    private sealed class RowGroup : IRowGroupBuffer<AlertRow>
    {
        private readonly Column<DateTime> _times = new();
        private readonly Column<string> _sites = new();
        private readonly Column<string> _devices = new();
        private readonly Column<string> _metrics = new();
        private readonly Column<string> _ids = new();
        private readonly Column<string> _types = new();
        private readonly Column<string> _severities = new();
        private readonly Column<long> _episodes = new();
        private readonly Column<long> _offsets = new();
        private readonly Column<double?> _values = new();
        private readonly Column<double> _grades = new();
        private readonly Column<long?> _outOfBand = new();
        private readonly Column<string?> _models = new();

        public int Count { get; private set; }

        public void Add(in AlertRow row)
        {
            var i = Count;
            _times.Set(i, DateTimeOffset.FromUnixTimeMilliseconds(row.TimestampMs).UtcDateTime);
            _sites.Set(i, row.Site);
            _devices.Set(i, row.Device);
            _metrics.Set(i, row.Metric);
            _ids.Set(i, row.AlertId);
            _types.Set(i, row.Type);
            _severities.Set(i, row.Severity);
            _episodes.Set(i, row.Episode);
            _offsets.Set(i, row.Offset);
            _values.Set(i, double.IsFinite(row.Value) ? row.Value : null);
            _grades.Set(i, row.Grade);
            _outOfBand.Set(i, row.OutOfBandReadings >= 0 ? row.OutOfBandReadings : null);
            _models.Set(i, row.Model);
            Count = i + 1;
        }

        public async Task WriteAsync(ParquetRowGroupWriter rowGroup)
        {
            var n = Count;
            await rowGroup.WriteAsync(Time, _times.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Site, _sites.Segment(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Device, _devices.Segment(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Metric, _metrics.Segment(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(AlertId, _ids.Segment(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Type, _types.Segment(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Severity, _severities.Segment(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Episode, _episodes.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Offset, _offsets.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Value, _values.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Grade, _grades.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(OutOfBand, _outOfBand.Values(n)).ConfigureAwait(false);
            await rowGroup.WriteAsync(Model, _models.Segment(n)!).ConfigureAwait(false);
            _ids.Forget(n);
            _models.Forget(n);
            Count = 0;
        }
    }
}

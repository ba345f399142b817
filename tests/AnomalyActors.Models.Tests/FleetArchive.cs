using AnomalyActors.Archive;
using AnomalyActors.Testing;

namespace AnomalyActors.Models.Tests;

/// <summary>A metric whose streams' readings stray from the EWMA's prediction so that the band they call for has a known half-width, around a known level.</summary>
internal sealed record FleetMetric(string Name, double HalfWidth, double Level);

/// <summary>One stream of the fleet archive and the detector that scored it.</summary>
internal sealed record FleetStream(string Site, string Device, FleetMetric Metric, string Detector, double Scale, double Level);

/// <summary>
/// A small archive of two sites' enriched readings whose residuals are known. Every stream has
/// <see cref="ReadingsPerStream"/> readings, one a second, uniformly spread around the prediction
/// so that twice the 95th percentile of the residual is the metric's half-width (times the
/// stream's scale). An EWMA stream's first <see cref="MatureAfter"/> readings stray three times as
/// far (its prediction still settling; the first five have none at all); after that every 25th
/// reading is an anomaly far outside (4 %, fewer than the 5 % a 95th percentile shrugs off), and one
/// reading has no prediction. One stream is scored by a
/// z-score detector with much smaller residuals, which training must not see.
/// </summary>
internal static class FleetArchive
{
    public const long MatureAfter = 50;

    public const int ReadingsPerStream = 150;

    public const string Ewma = "ewma@1a2b3c4d";

    public static readonly DateTimeOffset Start = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);

    public static readonly FleetMetric Temperature = new("temperature", 0.5, 20);

    public static readonly FleetMetric Humidity = new("humidity", 2.0, 45);

    /// <summary>Only two streams: fewer than a type needs by default.</summary>
    public static readonly FleetMetric Pressure = new("pressure", 30, 1013);

    /// <summary>
    /// Each metric's streams have half-widths spread evenly around the metric's (median: the
    /// metric's own for an odd count, 1 % below it for four) and levels 1 % apart.
    /// </summary>
    public static readonly IReadOnlyList<FleetStream> Streams =
    [
        new("dc1", "boiler-1", Temperature, Ewma, 0.96, 20.0),
        new("dc1", "boiler-2", Temperature, Ewma, 0.98, 20.2),
        new("dc1", "boiler-3", Temperature, Ewma, 1.00, 20.4),
        new("dc2", "boiler-1", Temperature, Ewma, 1.02, 20.6),
        new("dc2", "boiler-2", Temperature, Ewma, 1.04, 20.8),
        new("dc1", "room-1", Humidity, Ewma, 0.96, 45.0),
        new("dc1", "room-2", Humidity, Ewma, 0.98, 45.45),
        new("dc2", "room-1", Humidity, Ewma, 1.00, 45.9),
        new("dc2", "room-2", Humidity, Ewma, 1.02, 46.35),
        new("dc1", "main", Pressure, Ewma, 1.00, 1013),
        new("dc2", "main", Pressure, Ewma, 1.00, 1013),
        new("dc2", "boiler-9", Temperature, "zscore@00ff00ff", 0.1, 20.0),
    ];

    /// <summary>Readings of a stream that training is to use: EWMA, past the warm-up, with a prediction (anomalies too).</summary>
    public static bool IsMature(FleetStream stream, EnrichedRow row) =>
        stream.Detector == Ewma && Index(row) >= MatureAfter && double.IsFinite(row.Prediction);

    /// <summary>Every row of the archive with its stream.</summary>
    public static IReadOnlyList<(FleetStream Stream, EnrichedRow Row)> Rows { get; } = Generate();

    /// <summary>Writes the archive (one source per site) into a new scratch directory and returns its root.</summary>
    public static async Task<string> WriteAsync()
    {
        var root = ScratchDirectory.Create("anomaly-actors-models");
        foreach (var site in Rows.GroupBy(r => r.Row.Site))
        {
            await using var archive = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, $"{site.Key}.enriched.0", new ArchiveOptions(long.MaxValue, TimeSpan.FromDays(1), 1024));
            await archive.RecoverAsync();
            foreach (var (_, row) in site)
            {
                await archive.AddAsync(row.Offset, row);
            }

            await archive.RollAsync();
        }

        return root;
    }

    /// <summary>The reading's place in its stream: rows are written reading by reading, each stream in turn.</summary>
    private static long Index(EnrichedRow row) =>
        (row.TimestampMs - Start.ToUnixTimeMilliseconds()) / 1000;

    private static List<(FleetStream, EnrichedRow)> Generate()
    {
        var rows = new List<(FleetStream, EnrichedRow)>();
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        var random = new Random(20261206);
        for (var i = 0; i < ReadingsPerStream; i++)
        {
            foreach (var stream in Streams)
            {
                var offset = offsets.GetValueOrDefault(stream.Site);
                offsets[stream.Site] = offset + 1;
                // Uniform residuals within +-spread: their 95th percentile is 0.95 spread.
                var spread = stream.Metric.HalfWidth * stream.Scale / (2 * 0.95);
                var prediction = stream.Level;
                var value = stream.Level + (spread * ((2 * random.NextDouble()) - 1));
                var anomaly = false;
                if (i < MatureAfter)
                {
                    prediction = i < 5 ? double.NaN : prediction;
                    value = stream.Level + (3 * (value - stream.Level));
                }
                else if (i % 25 == 0)
                {
                    anomaly = true;
                    value = stream.Level + (20 * spread);
                }
                else if (i == MatureAfter + 3)
                {
                    prediction = double.NaN;
                }

                var halfWidth = 3 * spread;

                var key = $"{stream.Site}/{stream.Device}/{stream.Metric.Name}";
                rows.Add((stream, new EnrichedRow(
                    Start.AddSeconds(i).ToUnixTimeMilliseconds(),
                    stream.Site,
                    stream.Device,
                    stream.Metric.Name,
                    value,
                    prediction,
                    stream.Level - halfWidth,
                    stream.Level + halfWidth,
                    anomaly ? 0.99 : 0.1,
                    anomaly,
                    anomaly ? $"{key}#{i}" : null,
                    offset,
                    stream.Detector)));
            }
        }

        return rows;
    }
}

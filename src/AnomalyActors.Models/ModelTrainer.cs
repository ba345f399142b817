using System.Globalization;
using AnomalyActors.Archive;
using AnomalyActors.Core.Models;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Detection;

namespace AnomalyActors.Models;

/// <summary>A stream type given by name: the streams whose key (<c>site/device/metric</c>) <paramref name="Streams"/> matches.</summary>
public sealed record NamedStreamType(string Name, StreamGlob Streams);

/// <summary>How a model is trained from the archive.</summary>
public sealed record TrainOptions
{
    /// <summary>
    /// A stream's readings up to this many (in offset order) are left out: its band was still
    /// learning. The default is the EWMA band's own alarm warm-up (50 times its window of 20).
    /// </summary>
    public long MatureAfter { get; init; } = 1000;

    /// <summary>The <see cref="DetectorPrior.ArmAfter"/> of every type: how many readings a young stream with the prior waits before alarms.</summary>
    public long ArmAfter { get; init; } = 20;

    /// <summary>Types with fewer streams are left out: too few to speak for a fleet.</summary>
    public int MinStreams { get; init; } = 3;

    /// <summary>
    /// Named types, tried in order before the default (a stream's type is its metric name); the
    /// first that matches a stream is its type.
    /// </summary>
    public IReadOnlyList<NamedStreamType> Types { get; init; } = [];

    /// <summary>The query over the archive is cancelled after this long.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>A type the training saw but did not put into the model, and why.</summary>
public sealed record LeftOutType(string Name, long Streams, string Reason);

/// <summary>What a training produced: the model, the readings of each site it used, and the types it left out.</summary>
public sealed record TrainedModel(GlobalModel Model, IReadOnlyList<SiteRange> Sites, IReadOnlyList<LeftOutType> LeftOut);

/// <summary>Training found nothing to train on; the message says what is missing.</summary>
public sealed class ModelTrainingException(string message) : Exception(message);

/// <summary>
/// Trains the global model from the <c>enriched</c> dataset of every site's archive. What a young
/// stream lacks is knowing how far a normal reading of its type strays from the EWMA's prediction:
/// so the training looks at readings scored by EWMA bands (whose prediction the prior's band is
/// drawn around) once each stream's prediction settled, and calibrates the band from what the fleet
/// did, not from the bands its detectors drew (a detector tuned too tight would teach its own false
/// alarms). Per stream: twice the 95th percentile of the absolute residual (value minus prediction),
/// about four standard deviations for Gaussian noise, and robust to up to 5 % of the readings being
/// anomalies (so they are not left out by the detectors' own verdicts); and the median level. Per
/// type: the median over its streams is the prior's half-width, which a few odd streams do not move,
/// and the spread of their levels is kept for people to judge the type by.
/// </summary>
public static class ModelTrainer
{
    /// <exception cref="ModelTrainingException">The archive has no enriched readings.</exception>
    /// <exception cref="ArchiveQueryException">The query failed or ran past <see cref="TrainOptions.Timeout"/>.</exception>
    public static async Task<TrainedModel> TrainAsync(string archiveRoot, TrainOptions options, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MatureAfter);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ArmAfter, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MinStreams, 1);
        if (options.Types.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ArgumentException($"Stream type '{twice.Key}' is named more than once.", nameof(options));
        }

        var enriched = Path.Combine(Path.GetFullPath(archiveRoot), "dataset=enriched");
        if (!Directory.Exists(enriched) || !Directory.EnumerateFiles(enriched, "*" + ArchiveLayout.Extension, SearchOption.AllDirectories).Any())
        {
            throw new ModelTrainingException($"The archive {Path.GetFullPath(archiveRoot)} has no enriched readings yet (no files under {enriched}).");
        }

        var created = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var streams = await ReadStreamsAsync(archiveRoot, options, cancellation).ConfigureAwait(false);
        var (types, usedStreams, leftOut) = Group(streams, options);
        var model = new GlobalModel(ModelStore.VersionFor(created, types), created, types);
        return new TrainedModel(model, SiteRanges(usedStreams), leftOut);
    }

    /// <summary>The half-width a stream's residuals call for: this many times their <see cref="ResidualQuantile"/>.</summary>
    public const double ResidualMultiple = 2;

    public const double ResidualQuantile = 0.95;

    /// <summary>One stream's mature EWMA readings, summarized.</summary>
    private sealed record StreamSummary(string Site, string Device, string Metric, double HalfWidth, double Level, long Readings, DateTimeOffset From, DateTimeOffset To);

    private static async Task<List<StreamSummary>> ReadStreamsAsync(string archiveRoot, TrainOptions options, CancellationToken cancellation)
    {
        // Readings are counted toward maturity in the stream's own order, before anything is left
        // out: readings without a prediction were seen by the detector too.
        var sql = string.Create(CultureInfo.InvariantCulture, $"""
            WITH ewma AS (
                SELECT site, device, metric, time, value, prediction,
                       row_number() OVER (PARTITION BY site, device, metric ORDER BY "offset") AS seen
                FROM enriched
                WHERE detector LIKE 'ewma%'
            )
            SELECT site, device, metric,
                   {ResidualMultiple} * quantile_cont(abs(value - prediction), {ResidualQuantile}) AS half_width,
                   median(value) AS level,
                   count(*) AS readings,
                   epoch_ms(min(time)) AS first_ms,
                   epoch_ms(max(time)) AS last_ms
            FROM ewma
            WHERE seen > {options.MatureAfter} AND isfinite(prediction) AND isfinite(value)
            GROUP BY site, device, metric
            ORDER BY site, device, metric
            """);
        using var query = ArchiveQuery.Open(archiveRoot, ["enriched"]);
        var result = await query.RunAsync(sql, options.Timeout, cancellation).ConfigureAwait(false);
        return result.Rows.Select(row => new StreamSummary(
            (string)row[0]!,
            (string)row[1]!,
            (string)row[2]!,
            Convert.ToDouble(row[3], CultureInfo.InvariantCulture),
            Convert.ToDouble(row[4], CultureInfo.InvariantCulture),
            Convert.ToInt64(row[5], CultureInfo.InvariantCulture),
            DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(row[6], CultureInfo.InvariantCulture)),
            DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(row[7], CultureInfo.InvariantCulture)))).ToList();
    }

    /// <summary>
    /// Streams grouped into their types: named types first, in the order given, then one per
    /// metric in name order; the model's types keep that order, since the first that covers a
    /// stream is its type.
    /// </summary>
    private static (List<StreamTypeModel> Types, List<StreamSummary> Used, List<LeftOutType> LeftOut) Group(List<StreamSummary> streams, TrainOptions options)
    {
        var named = options.Types.ToDictionary(t => t.Name, t => new List<StreamSummary>(), StringComparer.Ordinal);
        var byMetric = new SortedDictionary<string, List<StreamSummary>>(StringComparer.Ordinal);
        foreach (var stream in streams)
        {
            var key = string.Concat(stream.Site, "/", stream.Device, "/", stream.Metric);
            var type = options.Types.FirstOrDefault(t => t.Streams.IsMatch(key));
            if (type is not null)
            {
                named[type.Name].Add(stream);
            }
            else if (byMetric.TryGetValue(stream.Metric, out var members))
            {
                members.Add(stream);
            }
            else
            {
                byMetric[stream.Metric] = [stream];
            }
        }

        var groups = options.Types.Select(t => (t.Name, (StreamGlob?)t.Streams, Members: named[t.Name]))
            .Concat(byMetric.Select(m => (Name: m.Key, (StreamGlob?)null, Members: m.Value)));
        var types = new List<StreamTypeModel>();
        var used = new List<StreamSummary>();
        var leftOut = new List<LeftOutType>();
        foreach (var (name, glob, members) in groups)
        {
            if (members.Count < options.MinStreams)
            {
                leftOut.Add(new LeftOutType(name, members.Count, $"{members.Count} stream{(members.Count == 1 ? string.Empty : "s")}, fewer than the {options.MinStreams} a type needs"));
                continue;
            }

            var prior = new DetectorPrior(Quantile(members.Select(m => m.HalfWidth), 0.5), options.ArmAfter);
            if (prior.Problem() is { } problem)
            {
                leftOut.Add(new LeftOutType(name, members.Count, $"its streams' median residual band {problem} (constant readings?)"));
                continue;
            }

            var levels = members.Select(m => m.Level).ToArray();
            types.Add(new StreamTypeModel(
                name,
                glob,
                prior,
                members.Count,
                members.Sum(m => m.Readings),
                Quantile(levels, 0.01),
                Quantile(levels, 0.5),
                Quantile(levels, 0.99)));
            used.AddRange(members);
        }

        return (types, used, leftOut);
    }

    private static List<SiteRange> SiteRanges(List<StreamSummary> streams) =>
        streams
            .GroupBy(s => s.Site, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new SiteRange(g.Key, g.Min(s => s.From), g.Max(s => s.To), g.Sum(s => s.Readings)))
            .ToList();

    /// <summary>The <paramref name="q"/>-quantile, interpolated between the two nearest values (DuckDB's quantile_cont).</summary>
    private static double Quantile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        var position = q * (sorted.Length - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + ((position - below) * (sorted[above] - sorted[below]));
    }
}

using AnomalyActors.Core.Models;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Detection;

namespace AnomalyActors.Models.Tests;

/// <summary>Models as a training would make them, one per minute of a day, each with a band of its own.</summary>
internal static class SampleModels
{
    public static readonly IReadOnlyList<SiteRange> Sites =
    [
        new("dc1", new DateTimeOffset(2026, 12, 6, 0, 0, 50, TimeSpan.Zero), new DateTimeOffset(2026, 12, 6, 0, 1, 29, TimeSpan.Zero), 170),
        new("dc2", new DateTimeOffset(2026, 12, 6, 0, 0, 51, TimeSpan.Zero), new DateTimeOffset(2026, 12, 6, 0, 1, 28, TimeSpan.Zero), 136),
    ];

    /// <summary>The model trained at minute <paramref name="minute"/> of 2026-12-07 05:00 UTC.</summary>
    public static GlobalModel At(int minute)
    {
        var created = new DateTimeOffset(2026, 12, 7, 5, 0, 0, TimeSpan.Zero).AddMinutes(minute).AddMilliseconds(123);
        StreamTypeModel[] types =
        [
            new("boilers", new StreamGlob("*/boiler-*/temperature"), new DetectorPrior(0.5 + (minute / 100.0), 20), 5, 170, 20.0, 20.4, 20.8),
            new("humidity", null, new DetectorPrior(2.0, 20), 4, 136, 45.0, 45.6, 46.3),
        ];
        return new GlobalModel(ModelStore.VersionFor(created, types), created, types);
    }
}

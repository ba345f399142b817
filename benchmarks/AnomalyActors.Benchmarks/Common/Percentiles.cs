using System.Numerics;

namespace AnomalyActors.Benchmarks.Common;

/// <summary>Latency percentiles of the harnesses.</summary>
public static class Percentiles
{
    /// <summary>
    /// The nearest-rank percentile <paramref name="q"/> (0-1) of values sorted ascending: a value
    /// that was measured, never an interpolation between two; <paramref name="empty"/> for none.
    /// </summary>
    public static double NearestRank<T>(T[] sorted, double q, double empty = double.NaN)
        where T : INumber<T> =>
        sorted.Length == 0 ? empty : double.CreateChecked(sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)]);
}

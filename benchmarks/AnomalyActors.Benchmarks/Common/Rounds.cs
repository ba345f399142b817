namespace AnomalyActors.Benchmarks.Common;

/// <summary>Figures over the timed rounds of a harness that alternates its parts.</summary>
public static class Rounds
{
    /// <summary>
    /// The median of the rounds' values (0 for none): one round with a noisy neighbour moves it less
    /// than it moves the mean.
    /// </summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

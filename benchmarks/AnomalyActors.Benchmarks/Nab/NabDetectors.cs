namespace AnomalyActors.Benchmarks.Nab;

/// <summary>A per-series online scorer: one score in [0, 1] per reading, from that reading and earlier ones only.</summary>
internal interface INabStream
{
    double Next(long timestampMs, double value);
}

/// <summary>Named detector configurations: one configuration for the whole corpus, nothing per file.</summary>
internal static class NabDetectors
{
    private static readonly Dictionary<string, Func<INabStream>> Configs = new(StringComparer.Ordinal)
    {
    };

    public static Func<INabStream> Get(string name) =>
        Configs.TryGetValue(name, out var f)
            ? f
            : throw new ArgumentException($"Unknown detector '{name}'. Known: {string.Join(", ", Configs.Keys)}.");
}

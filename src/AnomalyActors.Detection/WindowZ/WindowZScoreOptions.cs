namespace AnomalyActors.Detection;

/// <summary>Settings of <see cref="WindowZScore"/>. Immutable; every value is validated here.</summary>
public sealed record WindowZScoreOptions : DetectorOptions
{
    /// <summary>Upper bound on window / gcd(window, slide): the streaming state keeps one aggregate per pane.</summary>
    public const int MaxPanes = 100_000;

    /// <param name="windowMs">Window duration in milliseconds; positive.</param>
    /// <param name="slideMs">Distance between window starts; null means tumbling (= window). In (0, window].</param>
    /// <param name="threshold">Alarm when |z| is strictly above this; positive and finite.</param>
    public WindowZScoreOptions(long windowMs = 20_000, long? slideMs = null, double threshold = 2.0)
    {
        if (windowMs <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(windowMs), windowMs, "Must be positive.");
        }

        var slide = slideMs ?? windowMs;
        // A slide longer than the window would leave readings in no window at all.
        if (slide <= 0 || slide > windowMs)
        {
            throw new ArgumentOutOfRangeException(nameof(slideMs), slideMs, "Must be in (0, windowMs].");
        }

        if (windowMs / Gcd(windowMs, slide) > MaxPanes)
        {
            throw new ArgumentOutOfRangeException(
                nameof(slideMs), slideMs, $"windowMs / gcd(windowMs, slideMs) must not exceed {MaxPanes}.");
        }

        if (!(threshold > 0) || double.IsInfinity(threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "Must be positive and finite.");
        }

        WindowMs = windowMs;
        SlideMs = slide;
        Threshold = threshold;
    }

    /// <summary>The Talend run: 20 s tumbling windows, threshold 2.</summary>
    public static WindowZScoreOptions Default { get; } = new();

    public override string Kind => WindowZScore.KindName;

    public long WindowMs { get; }

    public long SlideMs { get; }

    public double Threshold { get; }

    public bool IsTumbling => SlideMs == WindowMs;

    /// <summary>Pane length: every window boundary is a multiple of it.</summary>
    internal long PaneMs => Gcd(WindowMs, SlideMs);

    public override IDetector Create() => new WindowZScore(this);

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}

/// <summary>One reading with its own event time.</summary>
public readonly record struct TimedReading(long TimestampMs, double Value);

/// <summary>The batch output for one window: its statistics and the z of every value in it, in input order.</summary>
public sealed record WindowZScores(
    long StartMs,
    long EndMs,
    double Mean,
    double StdDev,
    IReadOnlyList<TimedReading> Readings,
    IReadOnlyList<double> Z,
    IReadOnlyList<bool> Anomalies);

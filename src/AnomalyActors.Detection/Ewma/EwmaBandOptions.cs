namespace AnomalyActors.Detection;

/// <summary>How <see cref="EwmaBand"/> turns the window's squared deviations into a spread.</summary>
public enum SigmaMode
{
    /// <summary>sqrt of the SUM of squared deviations (the Array of Things notebook; k was tuned for it).</summary>
    Notebook = 0,

    /// <summary>Population standard deviation: sqrt of the sum divided by the window length.</summary>
    Population = 1,
}

/// <summary>Settings of <see cref="EwmaBand"/>. Immutable; every value is validated here.</summary>
public sealed record EwmaBandOptions : DetectorOptions
{
    public const double DefaultMinRelativeBandWidth = 1e-9;

    /// <param name="alpha">EWMA weight of the new reading after warm-up, in (0, 1].</param>
    /// <param name="warmupAlpha">EWMA weight during the first <paramref name="warmupReadings"/> readings, in (0, 1].</param>
    /// <param name="warmupReadings">Readings (counting the first) that use <paramref name="warmupAlpha"/>; at least 1.</param>
    /// <param name="window">Ring buffer length M behind sigma; at least 2.</param>
    /// <param name="gamma">Smoothing weight of the newest raw sigma, in (0, 1].</param>
    /// <param name="k">Band half-width in sigmas; positive.</param>
    /// <param name="alarmAfter">Alarms only once more than this many readings were seen before the current one; null means 50 * window.</param>
    /// <param name="sigmaMode">Raw sigma formula.</param>
    /// <param name="minBandWidth">Absolute floor of the band half-width; non-negative.</param>
    /// <param name="minRelativeBandWidth">Floor of the half-width as a fraction of |prediction|; non-negative.</param>
    public EwmaBandOptions(
        double alpha = 0.04,
        double warmupAlpha = 0.9,
        int warmupReadings = 5,
        int window = 20,
        double gamma = 0.01,
        double k = 1.3,
        long? alarmAfter = null,
        SigmaMode sigmaMode = SigmaMode.Notebook,
        double minBandWidth = 0,
        double minRelativeBandWidth = DefaultMinRelativeBandWidth)
    {
        if (!(alpha > 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Must be in (0, 1].");
        }

        if (!(warmupAlpha > 0 && warmupAlpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(warmupAlpha), warmupAlpha, "Must be in (0, 1].");
        }

        if (warmupReadings < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(warmupReadings), warmupReadings, "Must be at least 1.");
        }

        // 1,000,000 keeps the per-reading O(M) sigma pass and the state size sane.
        if (window < 2 || window > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "Must be in [2, 1000000].");
        }

        if (!(gamma > 0 && gamma <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "Must be in (0, 1].");
        }

        if (!(k > 0) || double.IsInfinity(k))
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, "Must be positive and finite.");
        }

        if (alarmAfter is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alarmAfter), alarmAfter, "Must be non-negative.");
        }

        if (!Enum.IsDefined(sigmaMode))
        {
            throw new ArgumentOutOfRangeException(nameof(sigmaMode), sigmaMode, "Unknown sigma mode.");
        }

        if (!(minBandWidth >= 0) || double.IsInfinity(minBandWidth))
        {
            throw new ArgumentOutOfRangeException(nameof(minBandWidth), minBandWidth, "Must be non-negative and finite.");
        }

        if (!(minRelativeBandWidth >= 0) || double.IsInfinity(minRelativeBandWidth))
        {
            throw new ArgumentOutOfRangeException(
                nameof(minRelativeBandWidth), minRelativeBandWidth, "Must be non-negative and finite.");
        }

        Alpha = alpha;
        WarmupAlpha = warmupAlpha;
        WarmupReadings = warmupReadings;
        Window = window;
        Gamma = gamma;
        K = k;
        AlarmAfter = alarmAfter ?? 50L * window;
        SigmaMode = sigmaMode;
        MinBandWidth = minBandWidth;
        MinRelativeBandWidth = minRelativeBandWidth;
    }

    /// <summary>
    /// Product default: the notebook's parameters, plus a relative band floor of 1e-9 * |prediction|.
    /// On a constant stream the EWMA can settle a rounding step away from the value while sigma is
    /// exactly 0; the floor absorbs that step (it is far below any real sensor resolution), so
    /// constant and flat series never alarm.
    /// </summary>
    public static EwmaBandOptions Default { get; } = new();

    /// <summary>
    /// Compatibility mode: exactly the Array of Things notebook, flaw included (no band floor, so a
    /// flat series alarms on every reading after warm-up). Used to check the port against the reference.
    /// </summary>
    public static EwmaBandOptions Notebook { get; } = new(sigmaMode: SigmaMode.Notebook, minBandWidth: 0, minRelativeBandWidth: 0);

    public override string Kind => EwmaBand.KindName;

    public double Alpha { get; }

    public double WarmupAlpha { get; }

    public int WarmupReadings { get; }

    public int Window { get; }

    public double Gamma { get; }

    public double K { get; }

    public long AlarmAfter { get; }

    public SigmaMode SigmaMode { get; }

    public double MinBandWidth { get; }

    public double MinRelativeBandWidth { get; }

    public override IDetector Create() => new EwmaBand(this);
}

namespace AnomalyActors.Detection;

/// <summary>
/// Settings of <see cref="SeasonalResidual"/>: the cycle it learns (a day by default) cut into slots, how
/// many cycles a slot must have seen before its residual counts, how fast a slot's typical value follows
/// the stream, and how much of the stream's variance the profile must explain before its residuals are
/// scored. Immutable; validated here.
/// </summary>
public sealed record SeasonalResidualOptions
{
    /// <summary>The most slots a cycle may have (a week of one-minute slots is 10,080).</summary>
    public const int MaxSlots = 100_000;

    /// <param name="period">Length of the cycle (default one day); the slot of a reading is its timestamp modulo the period.</param>
    /// <param name="slot">Width of a slot (default 10 minutes); must divide the period.</param>
    /// <param name="minCycles">Distinct cycles a slot must have seen before its residual is scored (default 3).</param>
    /// <param name="profileAlpha">Weight of a new reading in its slot's typical value, in (0, 1] (default 0.25).</param>
    /// <param name="strength">The profile counts when the residuals' variance is below this fraction of the values' variance, in (0, 1] (default 0.3).</param>
    /// <param name="varianceWindow">Readings in the moving estimates of both variances (default 2000).</param>
    /// <param name="likelihood">Normalisation of the residual score (default: <see cref="AnomalyLikelihoodOptions.NabTuned"/>).</param>
    public SeasonalResidualOptions(
        TimeSpan? period = null,
        TimeSpan? slot = null,
        int minCycles = 3,
        double profileAlpha = 0.25,
        double strength = 0.3,
        int varianceWindow = 2000,
        AnomalyLikelihoodOptions? likelihood = null)
    {
        var cycle = period ?? TimeSpan.FromDays(1);
        var width = slot ?? TimeSpan.FromMinutes(10);
        if (cycle.Ticks % TimeSpan.TicksPerMillisecond != 0 || width.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(period), cycle, "The period and the slot must be whole milliseconds.");
        }

        if (width <= TimeSpan.Zero || cycle < width || cycle.Ticks % width.Ticks != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slot), width, $"Must be positive and divide the period ({cycle}).");
        }

        if (cycle.Ticks / width.Ticks > MaxSlots)
        {
            throw new ArgumentOutOfRangeException(nameof(slot), width, $"The period ({cycle}) would have more than {MaxSlots} slots of this width.");
        }

        if (minCycles < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(minCycles), minCycles, "Must be at least 1.");
        }

        if (!(profileAlpha > 0 && profileAlpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(profileAlpha), profileAlpha, "Must be in (0, 1].");
        }

        if (!(strength > 0 && strength <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(strength), strength, "Must be in (0, 1].");
        }

        if (varianceWindow < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(varianceWindow), varianceWindow, "Must be at least 2.");
        }

        PeriodMs = cycle.Ticks / TimeSpan.TicksPerMillisecond;
        SlotMs = width.Ticks / TimeSpan.TicksPerMillisecond;
        MinCycles = minCycles;
        ProfileAlpha = profileAlpha;
        Strength = strength;
        VarianceWindow = varianceWindow;
        Likelihood = likelihood ?? AnomalyLikelihoodOptions.NabTuned;
    }

    /// <summary>A daily cycle in 10-minute slots, every other setting its default.</summary>
    public static SeasonalResidualOptions Daily { get; } = new();

    public long PeriodMs { get; }

    public long SlotMs { get; }

    public int Slots => (int)(PeriodMs / SlotMs);

    public int MinCycles { get; }

    public double ProfileAlpha { get; }

    public double Strength { get; }

    public int VarianceWindow { get; }

    public AnomalyLikelihoodOptions Likelihood { get; }
}

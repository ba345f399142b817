namespace AnomalyActors.Detection;

internal static class Grading
{
    /// <summary>
    /// Shared severity curve: with d = (distance outside the band) / (band half-width),
    /// grade = d / (1 + d). It is 0 on the edge, 0.5 one half-width outside, and tends to 1; it is
    /// bounded without a tuning constant and is monotone, so thresholds on it stay meaningful across
    /// detectors. A zero half-width makes any excursion infinitely far, hence 1.
    /// </summary>
    public static double FromDistance(double distanceOutside, double halfWidth)
    {
        if (!(distanceOutside > 0))
        {
            return 0;
        }

        if (!(halfWidth > 0))
        {
            return 1;
        }

        var d = distanceOutside / halfWidth;
        // Overflow to +inf would give inf/inf = NaN.
        return double.IsPositiveInfinity(d) ? 1 : d / (1 + d);
    }
}

namespace AnomalyActors.Detection;

/// <summary>
/// numpy's float64 <c>add.reduce</c> order (pairwise summation, 8 accumulators per block of up to
/// 128 values). Reproducing a numpy reference bit for bit needs the same rounding sequence, which a
/// plain left-to-right loop does not give.
/// </summary>
internal static class NumpySum
{
    private const int BlockSize = 128;

    public static double Sum(ReadOnlySpan<double> a)
    {
        if (a.Length < 8)
        {
            var res = 0.0;
            for (var i = 0; i < a.Length; i++)
            {
                res += a[i];
            }

            return res;
        }

        if (a.Length <= BlockSize)
        {
            double r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            var n = a.Length;
            var i = 8;
            for (; i < n - (n % 8); i += 8)
            {
                r0 += a[i];
                r1 += a[i + 1];
                r2 += a[i + 2];
                r3 += a[i + 3];
                r4 += a[i + 4];
                r5 += a[i + 5];
                r6 += a[i + 6];
                r7 += a[i + 7];
            }

            var res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++)
            {
                res += a[i];
            }

            return res;
        }

        var half = a.Length / 2;
        half -= half % 8;
        return Sum(a[..half]) + Sum(a[half..]);
    }

    /// <summary>
    /// The numpy sum of <c>(a - mean)**2</c>. Each term is rounded exactly as numpy rounds its
    /// temporary array, so computing it on the fly gives the same result without a scratch buffer.
    /// </summary>
    public static double SumSquaredDeviations(ReadOnlySpan<double> a, double mean)
    {
        if (a.Length < 8)
        {
            var res = 0.0;
            for (var i = 0; i < a.Length; i++)
            {
                res += Sq(a[i] - mean);
            }

            return res;
        }

        if (a.Length <= BlockSize)
        {
            double r0 = Sq(a[0] - mean), r1 = Sq(a[1] - mean), r2 = Sq(a[2] - mean), r3 = Sq(a[3] - mean);
            double r4 = Sq(a[4] - mean), r5 = Sq(a[5] - mean), r6 = Sq(a[6] - mean), r7 = Sq(a[7] - mean);
            var n = a.Length;
            var i = 8;
            for (; i < n - (n % 8); i += 8)
            {
                r0 += Sq(a[i] - mean);
                r1 += Sq(a[i + 1] - mean);
                r2 += Sq(a[i + 2] - mean);
                r3 += Sq(a[i + 3] - mean);
                r4 += Sq(a[i + 4] - mean);
                r5 += Sq(a[i + 5] - mean);
                r6 += Sq(a[i + 6] - mean);
                r7 += Sq(a[i + 7] - mean);
            }

            var res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++)
            {
                res += Sq(a[i] - mean);
            }

            return res;
        }

        var half = a.Length / 2;
        half -= half % 8;
        return SumSquaredDeviations(a[..half], mean) + SumSquaredDeviations(a[half..], mean);
    }

    private static double Sq(double d) => d * d;
}

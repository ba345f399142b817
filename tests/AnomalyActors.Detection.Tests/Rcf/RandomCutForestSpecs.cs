using System.Globalization;
using AnomalyActors.Detection.Rcf;
using Xunit;

namespace AnomalyActors.Detection.Tests.Rcf;

public sealed class RandomCutForestSpecs
{
    /// <summary>
    /// Score-then-update over a stepped series whose shingles repeat exactly (so scores go through the path for
    /// points already in the sample) with an odd bump, at dimensions that take the scalar path (1), the vector path
    /// with a scalar tail (6) and the pure vector path (8). The checksums are those of the code before the speed
    /// work (commit efc0ffc): any optimisation must leave every score bit as it was.
    /// </summary>
    [Theory]
    [InlineData(1, "32bb22bae8cc58a1")]
    [InlineData(6, "6cf317e29944ce64")]
    [InlineData(8, "67a0760dde9dbff6")]
    public void Should_keep_every_score_bit_of_the_reference_implementation(int dimensions, string expected)
    {
        var values = new double[3000 + dimensions];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = ((i / 37) % 4) + (i % 211 == 0 ? 0.5 : 0);
        }

        var forest = new RandomCutForest(dimensions, trees: 10, sampleSize: 64, seed: 5);
        var checksum = 0UL;
        for (var i = 0; i < 3000; i++)
        {
            var point = values.AsSpan(i, dimensions);
            checksum = (checksum * 1_099_511_628_211UL) ^ (ulong)BitConverter.DoubleToInt64Bits(forest.Score(point));
            forest.Update(point);
        }

        Assert.Equal(expected, checksum.ToString("x16", CultureInfo.InvariantCulture));
    }
}

using AnomalyActors.Core.Protocol;
using Xunit;

namespace AnomalyActors.Core.Tests;

public sealed class ReadingChunkSpecs
{
    [Fact]
    public void Should_group_by_stream_in_order_of_first_appearance_preserving_each_streams_order()
    {
        // Arrange
        var readings = new[]
        {
            new Reading("b", 10, 1.0),
            new Reading("a", 20, 2.0),
            new Reading("b", 5, 3.0), // earlier timestamp: arrival order wins, not time order
            new Reading("c", 30, 4.0),
            new Reading("a", 21, 5.0),
            new Reading("b", 11, 6.0),
        };

        // Act
        var chunk = ReadingChunk.FromReadings(readings);

        // Assert
        Assert.Equal(["b", "a", "c"], chunk.Keys);
        Assert.Equal([0, 3, 5, 6], chunk.GroupStarts);
        Assert.Equal([10L, 5, 11, 20, 21, 30], chunk.Timestamps);
        Assert.Equal([1.0, 3.0, 6.0, 2.0, 5.0, 4.0], chunk.Values);
        Assert.Equal(6, chunk.Count);
    }

    [Fact]
    public void Should_give_groups_contiguous_offsets_that_cover_the_chunk_exactly()
    {
        // Arrange
        var random = new Random(3);
        var readings = Enumerable.Range(0, 500)
            .Select(i => new Reading("s" + random.Next(17), i, i))
            .ToArray();

        // Act
        var chunk = ReadingChunk.FromReadings(readings);

        // Assert
        Assert.Equal(chunk.Keys.Length + 1, chunk.GroupStarts.Length);
        Assert.Equal(0, chunk.GroupStarts[0]);
        Assert.Equal(readings.Length, chunk.GroupStarts[^1]);
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            var expected = readings.Where(r => r.StreamKey == chunk.Keys[g]).Select(r => r.Value).ToArray();
            var start = chunk.GroupStarts[g];
            var length = chunk.GroupStarts[g + 1] - start;
            Assert.True(length > 0, $"group {g} is empty");
            Assert.Equal(expected, chunk.Values.AsSpan(start, length).ToArray());
        }

        Assert.Equal(chunk.Keys.Length, chunk.Keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Should_treat_keys_differing_only_in_case_as_different_streams()
    {
        // Arrange
        var readings = new[] { new Reading("s/d/m", 1, 1), new Reading("S/d/m", 2, 2), new Reading("s/d/m", 3, 3) };

        // Act
        var chunk = ReadingChunk.FromReadings(readings);

        // Assert
        Assert.Equal(["s/d/m", "S/d/m"], chunk.Keys);
        Assert.Equal([0, 2, 3], chunk.GroupStarts);
    }

    [Fact]
    public void Should_build_an_empty_chunk_from_no_readings()
    {
        // Arrange
        var readings = Array.Empty<Reading>();

        // Act
        var chunk = ReadingChunk.FromReadings(readings);

        // Assert
        Assert.Empty(chunk.Keys);
        Assert.Equal([0], chunk.GroupStarts);
        Assert.Empty(chunk.Timestamps);
        Assert.Empty(chunk.Values);
        Assert.Equal(0, chunk.Count);
    }

    [Fact]
    public void Should_keep_non_finite_values_as_they_are()
    {
        // Arrange: validation belongs to the sensor, which counts them as rejected.
        var readings = new[] { new Reading("a", 1, double.NaN), new Reading("a", 2, double.PositiveInfinity), new Reading("a", 3, -0.0) };

        // Act
        var chunk = ReadingChunk.FromReadings(readings);

        // Assert
        Assert.True(double.IsNaN(chunk.Values[0]));
        Assert.Equal(double.PositiveInfinity, chunk.Values[1]);
        Assert.True(double.IsNegative(chunk.Values[2]));
    }

    [Theory]
    [InlineData(new[] { 0, 1 }, 2)] // last start does not reach the value count
    [InlineData(new[] { 1, 2 }, 2)] // first start not 0
    [InlineData(new[] { 0 }, 0)] // one key needs two starts
    public void Should_reject_inconsistent_arrays(int[] starts, int count)
    {
        // Arrange
        var keys = new[] { "a" };

        // Act
        var exception = Record.Exception(() => new ReadingChunk(keys, starts, new long[count], new double[count]));

        // Assert
        Assert.IsType<ArgumentException>(exception);
    }

    [Fact]
    public void Should_reject_timestamps_and_values_of_different_lengths()
    {
        // Act
        var exception = Record.Exception(() => new ReadingChunk(["a"], [0, 2], new long[1], new double[2]));

        // Assert
        Assert.IsType<ArgumentException>(exception);
    }
}

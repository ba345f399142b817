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

    [Fact]
    public void Should_keep_explicit_offsets_with_their_readings_through_grouping_and_reuse()
    {
        // Arrange: an external log's batch, streams interleaved, more readings than the builder's first buffers
        var builder = new ChunkBuilder();
        var random = new Random(5);
        var added = new List<(string Key, long Offset, double Value)>();
        for (var i = 0; i < 1000; i++)
        {
            var key = "s" + random.Next(40);
            added.Add((key, 10_000 + i * 3, i));
            builder.Add(key, i, i, 10_000 + i * 3);
        }

        // Act: built twice, so the second chunk comes from reused buffers
        var first = builder.Build();
        builder.Add("x", 1, 1.5, 7);
        var second = builder.Build();

        // Assert
        Assert.NotNull(first.Offsets);
        for (var g = 0; g < first.Keys.Length; g++)
        {
            var slice = first.Slice(g, partitionId: 2, chunkFirstOffset: 0, previousOffset: -1, replay: false);
            var expected = added.Where(a => a.Key == first.Keys[g]).ToArray();
            Assert.Equal(expected.Select(e => e.Offset), slice.Offsets.ToArray());
            Assert.Equal(expected.Select(e => e.Value), slice.Values.ToArray());
            Assert.Equal(expected[0].Offset, slice.FirstOffset);
            Assert.Equal(expected[^1].Offset, slice.LastOffset);
        }

        Assert.Equal(["x"], second.Keys);
        Assert.Equal([7L], second.Offsets!);
        Assert.Equal([1.5], second.Values);
    }

    [Fact]
    public void Should_slice_an_intake_chunk_with_offsets_implied_by_position()
    {
        // Arrange
        var chunk = ReadingChunk.FromReadings([new Reading("a", 1, 1), new Reading("b", 2, 2), new Reading("a", 3, 3)]);

        // Act
        var a = chunk.Slice(0, partitionId: 1, chunkFirstOffset: 100, previousOffset: 90, replay: true);
        var b = chunk.Slice(1, partitionId: 1, chunkFirstOffset: 100, previousOffset: -1, replay: false);

        // Assert
        Assert.Null(chunk.Offsets);
        Assert.Equal(("a", 100L, 101L, 90L, true), (a.SensorId, a.FirstOffset, a.LastOffset, a.PreviousOffset, a.Replay));
        Assert.True(a.Offsets.IsEmpty);
        Assert.Equal([1.0, 3.0], a.Values.ToArray());
        Assert.Equal(("b", 102L, 102L), (b.SensorId, b.FirstOffset, b.LastOffset));
    }

    [Fact]
    public void Should_refuse_to_mix_implied_and_explicit_offsets_in_one_chunk()
    {
        var builder = new ChunkBuilder();
        builder.Add("a", 1, 1.0);

        Assert.Throws<InvalidOperationException>(() => builder.Add("a", 2, 2.0, offset: 5));
    }
}

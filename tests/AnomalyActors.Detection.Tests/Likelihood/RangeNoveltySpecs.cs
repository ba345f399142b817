using Xunit;

namespace AnomalyActors.Detection.Tests.Likelihood;

public class RangeNoveltySpecs
{
    [Fact]
    public void Should_flag_readings_beyond_the_seen_range_widened_by_the_tolerance()
    {
        // Arrange: range [10, 20], margin 0.5
        var novelty = new RangeNovelty(tolerance: 0.05);
        novelty.Update(10);
        novelty.Update(20);

        // Act / Assert
        Assert.False(novelty.Update(20.5));
        Assert.True(novelty.Update(21.1)); // beyond 20.5 + 0.525
        Assert.False(novelty.Update(9.5)); // range is now [10, 21.1]: margin 0.555
        Assert.True(novelty.Update(8.8)); // range [9.5, 21.1]: below 9.5 - 0.58
        Assert.Equal(8.8, novelty.Min);
        Assert.Equal(21.1, novelty.Max);
        Assert.Equal(6, novelty.Count);
    }

    [Fact]
    public void Should_never_flag_during_warm_up_or_on_a_flat_range()
    {
        // Arrange
        var warm = new RangeNovelty(tolerance: 0, warmup: 3);
        var flat = new RangeNovelty(tolerance: 0);

        // Act / Assert
        Assert.False(warm.Update(1));
        Assert.False(warm.Update(2));
        Assert.False(warm.Update(100));
        Assert.True(warm.Update(200));
        Assert.False(flat.Update(5));
        Assert.False(flat.Update(5));
        Assert.False(flat.Update(1000)); // no spread yet: nothing to be novel against
        Assert.True(flat.Update(1001));
        Assert.True(double.IsNaN(new RangeNovelty().Min));
    }

    [Fact]
    public void Should_continue_identically_after_a_state_round_trip_and_reject_bad_snapshots()
    {
        // Arrange
        var original = new RangeNovelty(0.1, 2);
        var random = new Random(3);
        for (var i = 0; i < 100; i++)
        {
            original.Update(random.NextDouble());
        }

        var restored = new RangeNovelty(0.1, 2);
        var state = StateBytes.Of(original.WriteState);
        StateBytes.Into(restored.ReadState, state);
        var other = new RangeNovelty(0.1, 2);
        other.Update(7);
        var before = StateBytes.Of(other.WriteState);
        var wrongVersion = (byte[])state.Clone();
        wrongVersion[0] = 2;

        // Act / Assert
        for (var i = 0; i < 200; i++)
        {
            var v = (random.NextDouble() * 1.4) - 0.2;
            Assert.Equal(original.Update(v), restored.Update(v));
        }

        Assert.Equal(StateBytes.Of(original.WriteState), StateBytes.Of(restored.WriteState));
        Assert.Throws<InvalidDataException>(() => StateBytes.Into(other.ReadState, wrongVersion));
        Assert.Throws<EndOfStreamException>(() => StateBytes.Into(other.ReadState, state[..^1]));
        Assert.Equal(before, StateBytes.Of(other.WriteState));
    }

    [Fact]
    public void Should_reject_invalid_options_and_non_finite_readings()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RangeNovelty(tolerance: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RangeNovelty(tolerance: double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RangeNovelty(warmup: -1));
        var novelty = new RangeNovelty();
        Assert.Throws<ArgumentOutOfRangeException>(() => novelty.Update(double.NaN));
        Assert.Equal(0, novelty.Count);
    }
}

using Xunit;

namespace AnomalyActors.Detection.Tests.Likelihood;

public class DetectionSpacingSpecs
{
    [Fact]
    public void Should_damp_the_scores_of_the_hold_readings_after_a_detection_then_rearm()
    {
        // Arrange
        var spacing = new DetectionSpacing(trigger: 0.5, hold: 3, factor: 0.25);

        // Act
        double[] input = [0.4, 0.8, 1.0, 0.6, 0.2, 0.9, 0.7];
        var output = input.Select(spacing.Update).ToArray();

        // Assert: 0.8 triggers; the next three are damped; 0.9 triggers again; 0.7 is damped
        Assert.Equal([0.4, 0.8, 0.25, 0.15, 0.05, 0.9, 0.175], output);
        Assert.True(spacing.Holding);
        Assert.Equal(7, spacing.Count);
    }

    [Fact]
    public void Should_pass_scores_through_with_no_hold()
    {
        // Arrange
        var spacing = new DetectionSpacing(trigger: 0.5, hold: 0, factor: 0);

        // Act / Assert
        Assert.Equal(0.9, spacing.Update(0.9));
        Assert.Equal(0.9, spacing.Update(0.9));
        Assert.False(spacing.Holding);
    }

    [Fact]
    public void Should_continue_identically_after_a_state_round_trip_and_reject_bad_snapshots()
    {
        // Arrange
        var original = new DetectionSpacing(0.6, 5, 0.5);
        var random = new Random(4);
        for (var i = 0; i < 53; i++)
        {
            original.Update(random.NextDouble());
        }

        var state = StateBytes.Of(original.WriteState);
        var restored = new DetectionSpacing(0.6, 5, 0.5);
        StateBytes.Into(restored.ReadState, state);
        var other = new DetectionSpacing(0.6, 5, 0.5);
        other.Update(0.9);
        var before = StateBytes.Of(other.WriteState);
        var wrongVersion = (byte[])state.Clone();
        wrongVersion[0] = 0;

        // Act / Assert
        for (var i = 0; i < 200; i++)
        {
            var s = random.NextDouble();
            Assert.Equal(original.Update(s), restored.Update(s));
        }

        Assert.Throws<InvalidDataException>(() => StateBytes.Into(other.ReadState, wrongVersion));
        Assert.Throws<EndOfStreamException>(() => StateBytes.Into(other.ReadState, state[..^1]));
        Assert.Equal(before, StateBytes.Of(other.WriteState));
    }

    [Fact]
    public void Should_reject_invalid_options_and_non_finite_scores()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DetectionSpacing(trigger: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DetectionSpacing(hold: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DetectionSpacing(factor: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DetectionSpacing().Update(double.PositiveInfinity));
    }
}

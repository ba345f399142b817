using Xunit;

namespace AnomalyActors.Detection.Tests;

public class ThresholdDetectorSpecs
{
    [Theory]
    [InlineData(15.0, false, 0.0)]
    [InlineData(10.0, false, 0.0)] // on the limit: strict comparison
    [InlineData(20.0, false, 0.0)]
    [InlineData(25.0, true, 1.0 / 3.0)] // 5 above, scale = range 10: d = 0.5, grade 0.5 / 1.5
    [InlineData(0.0, true, 0.5)] // 10 below: d = 1, grade 1/2
    [InlineData(-80.0, true, 0.9)] // 90 below: d = 9, grade 9/10
    public void Should_alarm_outside_the_limits_and_grade_by_distance_over_the_range(double value, bool alarm, double grade)
    {
        // Arrange
        var detector = new ThresholdDetector(new ThresholdOptions(min: 10, max: 20));

        // Act
        var score = detector.Update(0, value);

        // Assert
        Assert.Equal(alarm, score.OutOfBand);
        Assert.Equal(grade, score.Grade, 15);
        Assert.Equal(10.0, score.Low);
        Assert.Equal(20.0, score.High);
        Assert.True(double.IsNaN(score.Prediction));
        Assert.True(double.IsNaN(score.Sigma));
    }

    [Fact]
    public void Should_support_a_one_sided_limit_with_unit_scale()
    {
        // Arrange
        var detector = new ThresholdDetector(new ThresholdOptions(max: 100));

        // Act
        var above = detector.Update(0, 101); // 1 above, scale 1: d = 1, grade 1/2
        var below = detector.Update(1, -1e300);

        // Assert
        Assert.True(above.OutOfBand);
        Assert.Equal(0.5, above.Grade);
        Assert.True(double.IsNaN(above.Low));
        Assert.Equal(100.0, above.High);
        Assert.False(below.OutOfBand);
        Assert.Equal(2, detector.Count);
    }

    [Fact]
    public void Should_use_an_explicit_scale()
    {
        // Arrange
        var detector = new ThresholdDetector(new ThresholdOptions(min: 0, max: 1000, scale: 4));

        // Act: 12 above, d = 3, grade 3/4.
        var score = detector.Update(0, 1012);

        // Assert
        Assert.Equal(0.75, score.Grade);
    }

    public static TheoryData<Func<ThresholdOptions>, string> InvalidOptions => new()
    {
        { () => new ThresholdOptions(min: double.NaN), "min" },
        { () => new ThresholdOptions(min: double.PositiveInfinity), "min" },
        { () => new ThresholdOptions(min: 5, max: 4), "max" },
        { () => new ThresholdOptions(max: double.NaN), "max" },
        { () => new ThresholdOptions(min: 0, max: 1, scale: 0), "scale" },
        { () => new ThresholdOptions(min: 0, max: 1, scale: double.PositiveInfinity), "scale" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Should_reject_invalid_options_naming_the_parameter(Func<ThresholdOptions> create, string parameter)
    {
        // Act
        var error = Assert.Throws<ArgumentOutOfRangeException>(create);

        // Assert
        Assert.Equal(parameter, error.ParamName);
    }
}

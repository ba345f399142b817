using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using Xunit;
using Xunit.Sdk;

namespace AnomalyActors.Core.Tests;

/// <summary>The comparison helper must itself catch what record equality would miss or mis-report.</summary>
public sealed class ContentAssertSpecs
{
    [Fact]
    public void Should_accept_equal_content_in_distinct_arrays()
    {
        // Arrange
        var a = new ChunkStored(1, 2, new ReadingChunk(["k"], [0, 1], [5], [1.5]), [new SourceMark("s", 1)]);
        var b = new ChunkStored(1, 2, new ReadingChunk(["k"], [0, 1], [5], [1.5]), [new SourceMark("s", 1)]);

        // Act
        var exception = Record.Exception(() => ContentAssert.Equal(a, b));

        // Assert
        Assert.NotEqual(a, b); // record equality compares the array references
        Assert.Null(exception);
    }

    [Fact]
    public void Should_tell_negative_zero_from_zero_inside_an_array()
    {
        // Arrange
        var a = new ReadingChunk(["k"], [0, 1], [5], [0.0]);
        var b = new ReadingChunk(["k"], [0, 1], [5], [-0.0]);

        // Act
        var exception = Record.Exception(() => ContentAssert.Equal(a, b));

        // Assert
        Assert.IsAssignableFrom<XunitException>(exception);
        Assert.Contains("Values[0]", exception.Message);
    }

    [Fact]
    public void Should_compare_memory_by_content_and_length()
    {
        // Arrange
        var a = new ScoreReadings("k", 1, 0, -1, new long[] { 1, 2 }, new double[] { 1, 2 });
        var b = new ScoreReadings("k", 1, 0, -1, new long[] { 1, 3 }, new double[] { 1, 2 });
        var c = new ScoreReadings("k", 1, 0, -1, new long[] { 1, 2 }, new double[] { 1 });

        // Act
        var differentElement = Record.Exception(() => ContentAssert.Equal(a, b));
        var differentLength = Record.Exception(() => ContentAssert.Equal(a, c));

        // Assert
        Assert.IsAssignableFrom<XunitException>(differentElement);
        Assert.Contains("Timestamps[1]", differentElement.Message);
        Assert.IsAssignableFrom<XunitException>(differentLength);
    }
}

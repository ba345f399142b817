using AnomalyActors.Core.Events;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using Xunit;

namespace AnomalyActors.Core.Tests;

public sealed class EpisodeTrackerSpecs
{
    private const string Sensor = "s/d/m";

    private static DetectorScore In => new(0, -1, 1, 0.5, false, 0);

    private static DetectorScore Out(double grade) => new(0, -1, 1, 0.5, true, grade);

    [Fact]
    public void Should_open_on_the_first_out_of_band_reading()
    {
        // Arrange
        var tracker = new EpisodeTracker(closeAfterInBand: 2);

        // Act
        var first = tracker.Step(Sensor, 0, 100, 0.1, In);
        var second = tracker.Step(Sensor, 1, 101, 9.0, Out(0.4));

        // Assert
        Assert.Null(first);
        var opened = Assert.IsType<EpisodeOpened>(second);
        Assert.Equal(new EpisodeOpened(Sensor, 1, 1, 101, 9.0, 0.4), opened);
        Assert.Equal("s/d/m#1", opened.AlertId);
        Assert.True(tracker.IsOpen);
        Assert.Equal(new EpisodeTrackerState(1, true, 0, 1, 0.4), tracker.Capture());
    }

    [Fact]
    public void Should_close_after_the_configured_run_of_in_band_readings_with_count_and_peak()
    {
        // Arrange: offsets 10..17 = out(0.2) out(0.7) in out(0.5) in in in -> closes at offset 16 (third in-band in a row)
        var tracker = new EpisodeTracker(closeAfterInBand: 3);
        var scores = new[] { Out(0.2), Out(0.7), In, Out(0.5), In, In, In, In };
        var events = new List<IEpisodeEvent?>();

        // Act
        for (var i = 0; i < scores.Length; i++)
        {
            events.Add(tracker.Step(Sensor, 10 + i, 1_000 + i, i, scores[i]));
        }

        // Assert
        Assert.Equal(new EpisodeOpened(Sensor, 1, 10, 1_000, 0, 0.2), events[0]);
        Assert.Equal(new EpisodeClosed(Sensor, 1, 16, 1_006, 3, 0.7), events[6]);
        Assert.Equal([0, 6], Enumerable.Range(0, events.Count).Where(i => events[i] is not null));
        Assert.False(tracker.IsOpen);
        Assert.Equal(new EpisodeTrackerState(1, false, 0, 3, 0.7), tracker.Capture());
    }

    [Fact]
    public void Should_restart_the_in_band_run_on_an_out_of_band_reading()
    {
        // Arrange: close after 2; the run in, out, in never reaches 2 until the last two
        var tracker = new EpisodeTracker(closeAfterInBand: 2);
        var scores = new[] { Out(0.3), In, Out(0.1), In, In };
        var events = new List<IEpisodeEvent?>();

        // Act
        for (var i = 0; i < scores.Length; i++)
        {
            events.Add(tracker.Step(Sensor, i, i, i, scores[i]));
        }

        // Assert
        Assert.IsType<EpisodeOpened>(events[0]);
        Assert.Null(events[1]);
        Assert.Null(events[2]);
        Assert.Null(events[3]);
        Assert.Equal(new EpisodeClosed(Sensor, 1, 4, 4, 2, 0.3), events[4]);
    }

    [Fact]
    public void Should_close_on_the_first_in_band_reading_when_configured_with_one()
    {
        // Arrange
        var tracker = new EpisodeTracker(closeAfterInBand: 1);
        tracker.Step(Sensor, 0, 0, 5, Out(0.5));

        // Act
        var closed = tracker.Step(Sensor, 1, 1, 0, In);

        // Assert
        Assert.Equal(new EpisodeClosed(Sensor, 1, 1, 1, 1, 0.5), closed);
    }

    [Fact]
    public void Should_number_episodes_so_alert_ids_are_stable_and_distinct()
    {
        // Arrange
        var tracker = new EpisodeTracker(closeAfterInBand: 1);
        var scores = new[] { Out(0.9), In, In, Out(0.1), Out(0.2), In, Out(0.3) };
        var events = new List<IEpisodeEvent>();

        // Act
        for (var i = 0; i < scores.Length; i++)
        {
            if (tracker.Step(Sensor, i, i, i, scores[i]) is { } e)
            {
                events.Add(e);
            }
        }

        // Assert
        Assert.Equal(
            ["open s/d/m#1@0", "close s/d/m#1@1", "open s/d/m#2@3", "close s/d/m#2@5", "open s/d/m#3@6"],
            events.Select(e => $"{(e is EpisodeOpened ? "open" : "close")} {e.AlertId}@{e.Offset}"));
        Assert.Equal(new EpisodeClosed(Sensor, 2, 5, 5, 2, 0.2), events[3]); // peak reset when episode 2 opened
        Assert.Equal(3, tracker.EpisodesOpened);
    }

    [Fact]
    public void Should_ignore_in_band_readings_while_closed()
    {
        // Arrange
        var tracker = new EpisodeTracker(closeAfterInBand: 2);

        // Act
        var events = Enumerable.Range(0, 5).Select(i => tracker.Step(Sensor, i, i, i, In)).ToArray();

        // Assert
        Assert.All(events, Assert.Null);
        Assert.Equal(default, tracker.Capture());
    }

    [Fact]
    public void Should_continue_identically_after_capture_and_restore_mid_episode()
    {
        // Arrange
        var scores = new[] { In, Out(0.4), In, Out(0.8), In, In, In, Out(0.1), In, In, In };
        var uninterrupted = new EpisodeTracker(closeAfterInBand: 3);
        var expected = scores.Select((s, i) => uninterrupted.Step(Sensor, i, i, i, s)).ToArray();
        var first = new EpisodeTracker(closeAfterInBand: 3);
        for (var i = 0; i < 5; i++)
        {
            first.Step(Sensor, i, i, i, scores[i]);
        }

        var restored = new EpisodeTracker(closeAfterInBand: 3);

        // Act
        restored.Restore(first.Capture());
        var rest = Enumerable.Range(5, scores.Length - 5).Select(i => restored.Step(Sensor, i, i, i, scores[i])).ToArray();

        // Assert
        Assert.Equal(expected[5..], rest);
        Assert.Equal(uninterrupted.Capture(), restored.Capture());
    }

    [Fact]
    public void Should_reject_a_close_after_below_one()
    {
        // Act
        var exception = Record.Exception(() => new EpisodeTracker(0));

        // Assert
        Assert.IsType<ArgumentOutOfRangeException>(exception);
    }
}

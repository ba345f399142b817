using System.Text;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Web.Alerts;
using Xunit;

namespace AnomalyActors.Web.Tests;

public sealed class AlertBoardSpecs
{
    private static EpisodeOpened Open(string sensor, long episode, double grade = 0.95, long at = 1_700_000_000_000) =>
        new(sensor, episode, episode * 10, at, 115.5, grade);

    private static EpisodeClosed Close(string sensor, long episode, long at = 1_700_000_060_000) =>
        new(sensor, episode, episode * 10 + 5, at, 3, 0.97);

    [Fact]
    public void Should_merge_an_episodes_open_and_close_into_one_row()
    {
        var board = new AlertBoard(10);
        board.Apply(Open("s1/fan-1/rpm", 1));
        board.Apply(Close("s1/fan-1/rpm", 1));

        var row = Assert.Single(board.Recent(AlertFilter.All, 10));
        Assert.Equal("s1/fan-1/rpm#1", row.AlertId);
        Assert.Equal(ResultRecords.Close, row.State);
        Assert.Equal("critical", row.Severity);
        Assert.Equal(115.5, row.Value);
        Assert.Equal(3, row.OutOfBandReadings);
        Assert.Equal("s1", row.Site);
        Assert.Contains("Anomaly detected on fan-1 rpm at site s1 with the ID s1/fan-1/rpm#1", row.Text);
    }

    [Fact]
    public void Should_ignore_a_repeated_alert_with_the_same_id()
    {
        var board = new AlertBoard(10);
        board.Apply(Open("s1/fan-1/rpm", 1));
        var first = board.Find("s1/fan-1/rpm#1")!;
        board.Apply(Open("s1/fan-1/rpm", 1) with { Value = 999 });

        Assert.Equal(1, board.Count);
        Assert.Equal(first, board.Find("s1/fan-1/rpm#1"));
    }

    [Fact]
    public void Should_keep_only_the_newest_alerts_beyond_its_capacity()
    {
        var board = new AlertBoard(3);
        for (var episode = 1; episode <= 5; episode++)
        {
            board.Apply(Open("s1/fan-1/rpm", episode));
        }

        Assert.Equal(["s1/fan-1/rpm#5", "s1/fan-1/rpm#4", "s1/fan-1/rpm#3"], board.Recent(AlertFilter.All, 10).Select(r => r.AlertId));
    }

    [Fact]
    public void Should_filter_by_site_severity_and_state_and_count_by_severity()
    {
        var board = new AlertBoard(10);
        board.Apply(Open("north/fan-1/rpm", 1, grade: 0.95));
        board.Apply(Open("south/fan-2/rpm", 1, grade: 0.6));
        board.Apply(Open("south/fan-3/rpm", 1, grade: 0.2));
        board.Apply(Close("south/fan-3/rpm", 1));

        Assert.Equal(["south/fan-3/rpm#1", "south/fan-2/rpm#1"], board.Recent(new AlertFilter(Site: "south"), 10).Select(r => r.AlertId));
        Assert.Equal(["south/fan-2/rpm#1"], board.Recent(new AlertFilter(Severity: "major"), 10).Select(r => r.AlertId));
        Assert.Equal(["south/fan-2/rpm#1", "north/fan-1/rpm#1"], board.Recent(new AlertFilter(State: "open"), 10).Select(r => r.AlertId));
        var counts = board.Counts();
        Assert.Equal(1, counts.BySeverity["critical"]);
        Assert.Equal(1, counts.BySeverity["major"]);
        Assert.Equal(1, counts.BySeverity["minor"]);
        Assert.Equal(0, counts.OpenBySeverity["minor"]);
        Assert.Equal(["north", "south"], counts.Sites);
    }

    [Fact]
    public void Should_read_alerts_in_their_json_form_and_refuse_anything_else()
    {
        var board = new AlertBoard(10);
        Assert.True(board.ApplyJson(Encoding.UTF8.GetBytes(ResultRecords.AlertJson(Open("s1/fan-1/rpm", 7), "s1"))));
        Assert.True(board.ApplyJson(Encoding.UTF8.GetBytes(ResultRecords.AlertJson(Close("s1/fan-1/rpm", 7), "s1"))));
        Assert.False(board.ApplyJson("{\"alertId\": 5}"u8));
        Assert.False(board.ApplyJson("not json at all"u8));
        Assert.False(board.ApplyJson("{\"alertId\":\"x\",\"type\":\"open\",\"site\":\"a\",\"device\":\"b\",\"metric\":\"c\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"value\":\"high\"}"u8));
        Assert.False(board.ApplyJson([]));

        var row = Assert.Single(board.Recent(AlertFilter.All, 10));
        Assert.Equal(new AlertView(row.AlertId, "s1", "fan-1", "rpm", "close", "critical", 1_700_000_000_000, 1_700_000_060_000, 115.5, 0.95, 0.97, 3, row.Text, null, null, row.Version), row);
    }

    [Fact]
    public void Should_complete_a_row_whose_close_it_saw_first()
    {
        var board = new AlertBoard(10);
        board.Apply(Close("s1/fan-1/rpm", 1));
        Assert.Null(board.Find("s1/fan-1/rpm#1")!.Value);
        board.Apply(Open("s1/fan-1/rpm", 1));

        var row = board.Find("s1/fan-1/rpm#1")!;
        Assert.Equal(ResultRecords.Close, row.State);
        Assert.Equal(115.5, row.Value);
        Assert.Equal(1_700_000_000_000, row.OpenedMs);
    }

    [Fact]
    public async Task Should_tell_watchers_every_changed_row_in_order()
    {
        var board = new AlertBoard(10);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seen = new List<AlertView>();
        var watching = Task.Run(async () =>
        {
            await foreach (var row in board.WatchAsync(100, stop.Token))
            {
                lock (seen)
                {
                    seen.Add(row);
                }

                if (row.AcknowledgedBy is not null)
                {
                    break;
                }
            }
        });
        // The watcher registers when its enumeration starts: new alerts until it has seen one.
        var episode = 0;
        while (!stop.IsCancellationRequested)
        {
            board.Apply(Open("s1/fan-1/rpm", ++episode));
            await Task.Delay(20);
            lock (seen)
            {
                if (seen.Count > 0)
                {
                    break;
                }
            }
        }

        board.Apply(Close("s1/fan-1/rpm", episode));
        Assert.True(board.Acknowledge(new Acknowledgement($"s1/fan-1/rpm#{episode}", "ops", 5)));
        await watching.WaitAsync(stop.Token);

        Assert.Equal([$"s1/fan-1/rpm#{episode}", $"s1/fan-1/rpm#{episode}", $"s1/fan-1/rpm#{episode}"], seen[^3..].Select(r => r.AlertId));
        Assert.Equal([ResultRecords.Open, ResultRecords.Close, ResultRecords.Close], seen[^3..].Select(r => r.State));
        Assert.Equal([null, null, "ops"], seen[^3..].Select(r => r.AcknowledgedBy));
        Assert.True(seen.Zip(seen.Skip(1)).All(pair => pair.First.Version < pair.Second.Version));
    }

    [Fact]
    public void Should_keep_acknowledgements_in_a_file_that_survives_a_restart()
    {
        var path = Path.Combine(AnomalyActors.Testing.ScratchDirectory.Create("anomaly-actors-web"), "acknowledgements.jsonl");
        var board = new AlertBoard(10);
        board.Apply(Open("s1/fan-1/rpm", 1));
        using (var log = AcknowledgementLog.Open(path, board))
        {
            Assert.True(log.Acknowledge(board, "s1/fan-1/rpm#1", "night\nshift\u0007", 42));
            Assert.False(log.Acknowledge(board, "s1/fan-1/rpm#99", "x", 43));
        }

        // A torn line, as a crash mid-write leaves it.
        File.AppendAllText(path, "{\"alertId\":\"s1/fan-1/rpm#2\",\"by\":");
        var again = new AlertBoard(10);
        using (var log = AcknowledgementLog.Open(path, again))
        {
            again.Apply(Open("s1/fan-1/rpm", 1));
            var row = again.Find("s1/fan-1/rpm#1")!;
            Assert.Equal("nightshift", row.AcknowledgedBy);
            Assert.Equal(42, row.AcknowledgedMs);
            again.Apply(Open("s1/fan-1/rpm", 3));
            Assert.True(log.Acknowledge(again, "s1/fan-1/rpm#3", "day", 44));
        }

        var third = new AlertBoard(10);
        using (AcknowledgementLog.Open(path, third))
        {
            third.Apply(Open("s1/fan-1/rpm", 3));
            Assert.Equal("day", third.Find("s1/fan-1/rpm#3")!.AcknowledgedBy);
        }
    }
}

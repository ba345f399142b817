using AnomalyActors.Core.State;
using AnomalyActors.Web.Series;
using Xunit;

namespace AnomalyActors.Web.Tests;

public sealed class SeriesStoreSpecs
{
    private static ScoredReading Point(long offset) =>
        new(offset, 1_700_000_000_000 + offset * 1000, offset, offset - 0.5, double.NaN, offset + 1, 0.1, false, 0);

    [Fact]
    public void Should_keep_only_the_readings_of_watched_streams()
    {
        var store = new SeriesStore(10, 5);
        store.Record("s/d/m", [Point(1)]);
        Assert.False(store.IsWatched("s/d/m"));

        var series = store.Watch("s/d/m");
        store.Record("s/d/m", [Point(2), Point(3)]);
        store.Record("s/d/other", [Point(4)]);

        Assert.True(store.IsWatched("s/d/m"));
        Assert.False(store.IsWatched("s/d/other"));
        Assert.Equal([2L, 3L], series.Points().Select(p => p.Offset));
    }

    [Fact]
    public void Should_keep_the_newest_readings_of_a_stream_in_order()
    {
        var store = new SeriesStore(4, 5);
        var series = store.Watch("s/d/m");
        for (var offset = 1; offset <= 10; offset++)
        {
            store.Record("s/d/m", [Point(offset)]);
        }

        Assert.Equal([7L, 8L, 9L, 10L], series.Points().Select(p => p.Offset));
    }

    [Fact]
    public void Should_let_the_stream_looked_at_longest_ago_give_way()
    {
        var store = new SeriesStore(4, 2);
        store.Watch("s/d/a");
        Thread.Sleep(20);
        store.Watch("s/d/b");
        Thread.Sleep(20);
        store.Watch("s/d/a");
        Thread.Sleep(20);
        store.Watch("s/d/c");

        Assert.Equal(["s/d/a", "s/d/c"], store.Sensors());
    }

    [Fact]
    public void Should_write_missing_predictions_and_bands_as_null_columns()
    {
        var columns = SeriesColumns.Of([Point(1), Point(2) with { Prediction = double.NaN }]);

        Assert.Equal([1L, 2L], columns.Offset);
        Assert.Equal([0.5, null], columns.Prediction);
        Assert.Equal([null, null], columns.Low);
        Assert.Equal([2.0, 3.0], columns.High);
    }

    [Fact]
    public async Task Should_tell_watchers_every_new_batch()
    {
        var store = new SeriesStore(10, 5);
        var series = store.Watch("s/d/m");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var batches = new List<long[]>();
        var watching = Task.Run(async () =>
        {
            await foreach (var batch in series.WatchAsync(16, stop.Token))
            {
                lock (batches)
                {
                    batches.Add([.. batch.Select(p => p.Offset)]);
                }

                if (batch.Any(p => p.Offset == 100))
                {
                    break;
                }
            }
        });
        var offset = 0;
        while (!stop.IsCancellationRequested)
        {
            store.Record("s/d/m", [Point(++offset)]);
            await Task.Delay(20);
            lock (batches)
            {
                if (batches.Count > 0)
                {
                    break;
                }
            }
        }

        store.Record("s/d/m", [Point(99), Point(100)]);
        await watching.WaitAsync(stop.Token);

        Assert.Equal([99L, 100L], batches[^1]);
    }
}

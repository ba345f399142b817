using System.Globalization;
using AnomalyActors.Core.Models;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Models.Tests;

/// <summary>The fleet archive, written once for the trainer's specs (they only read it).</summary>
public sealed class FleetArchiveFixture : IAsyncLifetime
{
    public string Root { get; private set; } = string.Empty;

    public async Task InitializeAsync() => Root = await FleetArchive.WriteAsync();

    public Task DisposeAsync() => Task.CompletedTask;
}

public sealed class ModelTrainerSpecs(FleetArchiveFixture fleet) : IClassFixture<FleetArchiveFixture>
{
    private static readonly TrainOptions Options = new() { MatureAfter = FleetArchive.MatureAfter, ArmAfter = 30 };

    private static long ExpectedReadings(FleetMetric metric) =>
        FleetArchive.Rows.Count(r => r.Stream.Metric == metric && FleetArchive.IsMature(r.Stream, r.Row));

    /// <summary>Over the metric's streams, the median of each stream's median of <paramref name="of"/> over its mature readings.</summary>
    private static double ExpectedMedian(FleetMetric metric, Func<Archive.EnrichedRow, double> of) =>
        Median(FleetArchive.Rows
            .Where(r => r.Stream.Metric == metric && FleetArchive.IsMature(r.Stream, r.Row))
            .GroupBy(r => r.Stream)
            .Select(g => Median(g.Select(r => of(r.Row)))));

    /// <summary>Over the metric's streams, the median of twice each stream's 95th percentile absolute residual (interpolated as DuckDB's quantile_cont).</summary>
    private static double ExpectedHalfWidth(FleetMetric metric) =>
        Median(FleetArchive.Rows
            .Where(r => r.Stream.Metric == metric && FleetArchive.IsMature(r.Stream, r.Row))
            .GroupBy(r => r.Stream)
            .Select(g =>
            {
                var residuals = g.Select(r => Math.Abs(r.Row.Value - r.Row.Prediction)).Order().ToArray();
                var position = 0.95 * (residuals.Length - 1);
                var below = (int)Math.Floor(position);
                return 2 * (residuals[below] + ((position - below) * (residuals[Math.Min(below + 1, residuals.Length - 1)] - residuals[below])));
            }));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    [Fact]
    public async Task Should_learn_each_type_s_half_width_from_the_residuals_of_its_mature_ewma_streams()
    {
        // Act
        var trained = await ModelTrainer.TrainAsync(fleet.Root, Options, CancellationToken.None);

        // Assert: warm-up readings stray three times as far and anomalies twenty times, so taking
        // either in wrongly would move the half-width far from the metric's.
        var temperature = trained.Model.Types.Single(t => t.Name == "temperature");
        Assert.Null(temperature.Streams);
        Assert.InRange(temperature.Prior.HalfWidth, 0.5 * 0.9, 0.5 * 1.1);
        Assert.Equal(ExpectedHalfWidth(FleetArchive.Temperature), temperature.Prior.HalfWidth, 1e-9);
        Assert.Equal(30, temperature.Prior.ArmAfter);
        Assert.Equal(5, temperature.TrainedStreams);
        Assert.Equal(ExpectedReadings(FleetArchive.Temperature), temperature.TrainedReadings);
        Assert.Equal(ExpectedMedian(FleetArchive.Temperature, r => r.Value), temperature.LevelP50, 1e-9);
        Assert.InRange(temperature.LevelP50, 20.3, 20.5);
        Assert.InRange(temperature.LevelP01, 19.9, 20.15);
        Assert.InRange(temperature.LevelP99, 20.65, 20.9);

        var humidity = trained.Model.Types.Single(t => t.Name == "humidity");
        Assert.InRange(humidity.Prior.HalfWidth, 2.0 * 0.9, 2.0 * 1.1);
        Assert.Equal(ExpectedHalfWidth(FleetArchive.Humidity), humidity.Prior.HalfWidth, 1e-9);
        Assert.Equal(4, humidity.TrainedStreams);
        Assert.Equal(ExpectedReadings(FleetArchive.Humidity), humidity.TrainedReadings);
        Assert.Equal(ExpectedMedian(FleetArchive.Humidity, r => r.Value), humidity.LevelP50, 1e-9);
        Assert.InRange(humidity.LevelP50, 45.45, 45.9);
    }

    [Fact]
    public async Task Should_leave_out_types_with_fewer_streams_than_the_minimum()
    {
        // Act
        var byDefault = await ModelTrainer.TrainAsync(fleet.Root, Options, CancellationToken.None);
        var withTwo = await ModelTrainer.TrainAsync(fleet.Root, Options with { MinStreams = 2 }, CancellationToken.None);

        // Assert
        Assert.Equal(["humidity", "temperature"], byDefault.Model.Types.Select(t => t.Name));
        var leftOut = Assert.Single(byDefault.LeftOut);
        Assert.Equal(("pressure", 2L), (leftOut.Name, leftOut.Streams));
        Assert.Contains("fewer than the 3", leftOut.Reason, StringComparison.Ordinal);

        var pressure = withTwo.Model.Types.Single(t => t.Name == "pressure");
        Assert.Equal(2, pressure.TrainedStreams);
        Assert.InRange(pressure.Prior.HalfWidth, 30 * 0.9, 30 * 1.1);
        Assert.Empty(withTwo.LeftOut);
    }

    [Fact]
    public async Task Should_give_each_site_the_time_range_and_count_of_the_readings_it_used()
    {
        // Arrange: pressure is left out, so its readings are not among those used.
        var expected = FleetArchive.Rows
            .Where(r => r.Stream.Metric != FleetArchive.Pressure && FleetArchive.IsMature(r.Stream, r.Row))
            .GroupBy(r => r.Row.Site)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new SiteRange(
                g.Key,
                DateTimeOffset.FromUnixTimeMilliseconds(g.Min(r => r.Row.TimestampMs)),
                DateTimeOffset.FromUnixTimeMilliseconds(g.Max(r => r.Row.TimestampMs)),
                g.Count()))
            .ToList();

        // Act
        var trained = await ModelTrainer.TrainAsync(fleet.Root, Options, CancellationToken.None);

        // Assert
        Assert.Equal(["dc1", "dc2"], expected.Select(s => s.Site));
        Assert.Equal(expected, trained.Sites);
    }

    [Fact]
    public async Task Should_type_streams_by_the_first_matching_glob_before_their_metric()
    {
        // Arrange
        var options = Options with
        {
            MinStreams = 2,
            Types = [new("dc1-boilers", new StreamGlob("dc1/boiler-*/*")), new("boilers", new StreamGlob("*/boiler-*/temperature"))],
        };

        // Act
        var trained = await ModelTrainer.TrainAsync(fleet.Root, options, CancellationToken.None);

        // Assert: every EWMA temperature stream is a boiler, so no temperature type is left.
        Assert.Equal(["dc1-boilers", "boilers", "humidity", "pressure"], trained.Model.Types.Select(t => t.Name));
        Assert.Equal((3L, "dc1/boiler-*/*"), (trained.Model.Types[0].TrainedStreams, trained.Model.Types[0].Streams?.Pattern));
        Assert.Equal((2L, "*/boiler-*/temperature"), (trained.Model.Types[1].TrainedStreams, trained.Model.Types[1].Streams?.Pattern));
        Assert.Equal("dc1-boilers", trained.Model.TypeOf(new StreamId("dc1", "boiler-7", "temperature"))?.Name);
        Assert.Equal("boilers", trained.Model.TypeOf(new StreamId("dc3", "boiler-7", "temperature"))?.Name);
        Assert.Null(trained.Model.TypeOf(new StreamId("dc3", "oven-1", "temperature")));
    }

    [Fact]
    public async Task Should_name_the_version_after_the_training_time_and_a_digest_of_the_model()
    {
        // Arrange
        var before = DateTimeOffset.UtcNow.AddMilliseconds(-1);

        // Act
        var trained = await ModelTrainer.TrainAsync(fleet.Root, Options, CancellationToken.None);

        // Assert
        var model = trained.Model;
        Assert.InRange(model.Created, before, DateTimeOffset.UtcNow);
        Assert.Equal(0, model.Created.Ticks % TimeSpan.TicksPerMillisecond);
        Assert.Matches(@"^\d{8}T\d{6}Z-[0-9a-f]{8}$", model.Version);
        Assert.True(GlobalModel.IsValidVersion(model.Version));
        Assert.StartsWith(model.Created.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture), model.Version, StringComparison.Ordinal);
        Assert.Equal(ModelStore.VersionFor(model.Created, model.Types), model.Version);
        Assert.NotEqual(ModelStore.VersionFor(model.Created, model.Types.Skip(1).ToList()), model.Version);
    }

    [Fact]
    public async Task Should_refuse_to_train_on_an_archive_without_enriched_readings()
    {
        // Arrange
        var empty = ScratchDirectory.Create("anomaly-actors-models");

        // Act
        var error = await Assert.ThrowsAsync<ModelTrainingException>(() => ModelTrainer.TrainAsync(empty, Options, CancellationToken.None));

        // Assert
        Assert.Contains("no enriched readings", error.Message, StringComparison.Ordinal);
    }
}

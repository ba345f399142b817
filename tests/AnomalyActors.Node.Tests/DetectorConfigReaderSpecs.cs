using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Detection;
using AnomalyActors.Detection.Rcf;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Node.Settings;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class DetectorConfigReaderSpecs
{
    private static DetectorOptions Read(string hocon) =>
        DetectorConfigReader.Read(SettingsReader.ForBlock(ConfigurationFactory.ParseString(hocon), "test.block", "test"));

    private static DetectorOptions Shipped(string name)
    {
        var (config, source) = NodeConfig.Load();
        return DetectorConfigReader.Read(new SettingsReader(config, "anomaly-actors.detection.detectors." + name, source));
    }

    [Fact]
    public void Should_ship_rcf_and_rcf_likelihood_blocks_equal_to_the_library_defaults_without_changing_the_default_list()
    {
        // Act
        var rcf = Shipped("rcf");
        var best = Shipped("rcf-likelihood");
        var (config, _) = NodeConfig.Load();

        // Assert
        Assert.Equal(RcfOptions.Default, rcf);
        Assert.Equal(LikelihoodRcfOptions.NabBest, best);
        Assert.Equal(["ewma"], config.GetStringList("anomaly-actors.detection.default"));
    }

    [Fact]
    public void Should_default_every_omitted_key()
    {
        // Act / Assert
        Assert.Equal(RcfOptions.Default, Read("type = rcf"));
        Assert.Equal(LikelihoodRcfOptions.NabBest, Read("type = rcf-likelihood"));
    }

    [Fact]
    public void Should_read_every_rcf_key()
    {
        // Act
        var options = Read("""
            type = rcf
            trees = 20
            sample-size = 128
            time-decay = 0.001
            shingle-size = 4
            output-after = 10
            seed = 7
            threshold-horizon = 100
            threshold-z-factor = 2.5
            threshold-minimum-score = 0.5
            threshold-warm-up = 8
            """);

        // Assert
        Assert.Equal(
            new RcfOptions(trees: 20, sampleSize: 128, timeDecay: 0.001, shingleSize: 4, outputAfter: 10, seed: 7,
                threshold: new RcfThresholdOptions(horizon: 100, zFactor: 2.5, minimumScore: 0.5, warmup: 8)),
            options);
    }

    [Fact]
    public void Should_read_every_rcf_likelihood_key()
    {
        // Act
        var options = Read("""
            type = rcf-likelihood
            trees = 30
            sample-size = 64
            time-decay = 0.002
            shingle-size = 2
            output-after = 5
            seed = 9
            learning-period = 10
            estimation-samples = 20
            historic-window = 500
            reestimation-period = 7
            averaging-window = 3
            min-mean = 0.01
            min-variance = 0.001
            two-sided = off
            filter-repeats = off
            range-tolerance = 0.1
            range-warm-up = 12
            spacing-trigger = 0.6
            spacing-hold = 50
            spacing-factor = 0.25
            threshold = 0.7
            seasonal = on
            seasonal-period = 7d
            seasonal-slot = 1h
            seasonal-min-cycles = 2
            seasonal-alpha = 0.5
            seasonal-strength = 0.4
            seasonal-variance-window = 900
            """);

        // Assert
        Assert.Equal(
            new LikelihoodRcfOptions(
                rcf: new RcfOptions(trees: 30, sampleSize: 64, timeDecay: 0.002, shingleSize: 2, outputAfter: 5, seed: 9),
                likelihood: new AnomalyLikelihoodOptions(learningPeriod: 10, estimationSamples: 20, historicWindow: 500,
                    reestimationPeriod: 7, averagingWindow: 3, minMean: 0.01, minVariance: 0.001, twoSided: false, filterRepeats: false),
                rangeTolerance: 0.1,
                rangeWarmup: 12,
                spacingTrigger: 0.6,
                spacingHold: 50,
                spacingFactor: 0.25,
                threshold: 0.7,
                seasonal: true,
                seasonalOptions: new SeasonalResidualOptions(period: TimeSpan.FromDays(7), slot: TimeSpan.FromHours(1), minCycles: 2,
                    profileAlpha: 0.5, strength: 0.4, varianceWindow: 900)),
            options);
    }

    [Theory]
    [InlineData("type = rcf\ntrees = 0", "trees")]
    [InlineData("type = rcf\nseed = -1", "seed")]
    [InlineData("type = rcf-likelihood\nthreshold = 1.5", "threshold")]
    [InlineData("type = rcf-likelihood\naveraging-window = 0", "averagingWindow")]
    [InlineData("type = rcf-likelihood\nseasonal-slot = 7m", "slot")]
    public void Should_reject_invalid_values_naming_the_block(string hocon, string mentioned)
    {
        // Act
        var error = Assert.Throws<ConfigurationException>(() => Read(hocon));

        // Assert
        Assert.Contains("test.block", error.Message);
        Assert.Contains(mentioned, error.Message);
    }
}

using Akka.Configuration;
using AnomalyActors.Ingestion.Payload;
using Xunit;

namespace AnomalyActors.Ingestion.Tests;

public sealed class IngestionSettingsSpecs
{
    [Fact]
    public void Should_parse_the_shipped_formats()
    {
        var settings = DefaultFormats.Load();

        Assert.Equal(["demo", "fan", "text", "value"], settings.Formats.Select(f => f.Name));
        Assert.Equal(65536, settings.MaxPayloadBytes);
        Assert.Equal(PayloadKind.Delimited, settings.Formats[2].Kind);
        Assert.Equal(["distance", "temperature", "humidity"], settings.Formats[2].Metrics);
    }

    [Theory]
    [InlineData("type = xml", "'type' is 'xml'")]
    [InlineData("type = json, site = \"topic\"", "site")]
    [InlineData("type = json, metrics = []", "needs 'metrics'")]
    [InlineData("type = delimited, metrics = [x]", "needs 'columns'")]
    [InlineData("type = delimited, columns = [a, b], metrics = [c]", "metric 'c' is not one of the columns")]
    [InlineData("type = number", "needs 'metric'")]
    public void Should_name_the_format_key_and_the_file_in_errors(string entry, string expected)
    {
        var config = ConfigurationFactory.ParseString($$"""
            anomaly-actors.ingestion {
              max-payload-bytes = 10
              batch { max-messages = 10, max-delay = 10ms, max-in-flight = 1, retry-backoff = 1s }
              formats = [ { name = bad, match = "a/#", site = "topic:0", device = "topic:1", metrics = [v], {{entry}} } ]
            }
            """);

        var error = Assert.Throws<ConfigurationException>(() => IngestionSettings.FromConfig(config, "my.conf"));

        Assert.Contains("anomaly-actors.ingestion.formats[0]", error.Message);
        Assert.Contains("my.conf", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Should_refuse_more_batches_in_flight_than_a_partition_can_tell_apart_from_resends()
    {
        var shipped = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", "anomaly-actors.conf"));
        var config = ConfigurationFactory.ParseString("anomaly-actors.ingestion.batch.max-in-flight = 65")
            .WithFallback(ConfigurationFactory.ParseString(shipped));

        var error = Assert.Throws<ConfigurationException>(() => IngestionSettings.FromConfig(config, "my.conf"));

        Assert.Contains("max-in-flight", error.Message);
        Assert.Contains("64", error.Message);
    }
}

using System.Text;
using AnomalyActors.Archive.Collecting;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;
using Xunit;

namespace AnomalyActors.Archive.Tests;

/// <summary>The rows the archive makes of the records a site's Kafka topics carry, and of the node's result log.</summary>
public sealed class ResultRecordReadingSpecs
{
    private static readonly StreamId Stream = new("plant", "fan-1", "rpm");

    [Fact]
    public void Should_read_an_enriched_record_of_the_topic_into_the_same_row_as_the_result_log()
    {
        var reading = new ScoredReading(4711, 1_765_000_000_123, 12.5, 11.0, double.NaN, 14.0, 0.93, true, 7);
        var buffer = new byte[ResultCodec.MaxEnrichedBytes(Stream.Key, "ewma@1234abcd")];
        var length = ResultCodec.WriteEnriched(buffer, Stream.Key, "ewma@1234abcd", reading);

        var fromTopic = KafkaArchiveCollector.ReadEnriched(ResultRecords.EnrichedJson(Stream, "ewma@1234abcd", reading, "dc1"));
        var fromLog = ResultCodec.ReadEnriched(buffer.AsSpan(0, length), new StreamNames());

        var expected = new EnrichedRow(1_765_000_000_123, "plant", "fan-1", "rpm", 12.5, 11.0, double.NaN, 14.0, 0.93, true, "plant/fan-1/rpm#7", 4711, "ewma@1234abcd");
        Assert.Equal(expected, fromTopic);
        Assert.Equal(expected, fromLog);
    }

    [Fact]
    public void Should_read_alerts_of_the_topic_into_the_same_rows_as_the_result_log()
    {
        IEpisodeEvent[] alerts =
        [
            new EpisodeOpened(Stream.Key, 7, 4711, 1_765_000_000_123, 12.5, 0.55),
            new EpisodeClosed(Stream.Key, 7, 4720, 1_765_000_009_000, 4, 0.91),
        ];
        foreach (var alert in alerts)
        {
            var buffer = new byte[ResultCodec.MaxAlertBytes(alert)];
            var length = ResultCodec.WriteAlert(buffer, alert);

            var fromTopic = KafkaArchiveCollector.ReadAlert(Encoding.UTF8.GetBytes(ResultRecords.AlertJson(alert, "dc1")));
            var fromLog = ResultCodec.ReadAlert(buffer.AsSpan(0, length), new StreamNames());

            Assert.Equal(fromLog, fromTopic);
            Assert.Equal(alert.AlertId, fromLog.AlertId);
            Assert.Equal(ResultRecords.Severity(alert), fromLog.Severity);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"site\": \"a\"}")]
    [InlineData("{\"ts\": \"yesterday\", \"site\": \"a\", \"device\": \"b\", \"metric\": \"c\", \"value\": 1, \"score\": 0, \"anomaly\": false, \"offset\": 1}")]
    public void Should_refuse_a_record_that_is_not_a_result_with_a_reason(string json)
    {
        var error = Record.Exception(() => KafkaArchiveCollector.ReadEnriched(Encoding.UTF8.GetBytes(json)));

        Assert.NotNull(error);
        Assert.False(string.IsNullOrEmpty(error.Message));
    }
}

using System.Text;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Ingestion.Payload;
using Xunit;

namespace AnomalyActors.Ingestion.Tests;

public sealed class PayloadParserSpecs
{
    private const long Arrival = 1_700_000_000_000;
    private readonly PayloadParser _parser = DefaultFormats.Load().CreateParser();

    private (ParseOutcome Outcome, List<Reading> Readings) Parse(string topic, string payload)
    {
        var readings = new List<Reading>();
        var outcome = _parser.Parse(topic, Encoding.UTF8.GetBytes(payload), Arrival, readings);
        return (outcome, readings);
    }

    [Fact]
    public void Should_read_the_item4_demo_sensor_with_device_from_topic_and_arrival_time()
    {
        var (outcome, readings) = Parse("sensors/dc1/dev-7/demo", """{"iotName":"DemoSensor","iotValue":15}""");

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal([new Reading("dc1/dev-7/iotValue", Arrival, 15)], readings);
    }

    [Fact]
    public void Should_take_the_demo_timestamp_from_ts_when_present()
    {
        var (outcome, readings) = Parse("sensors/dc1/dev-7/demo", """{"iotName":"DemoSensor","iotValue":101,"ts":1732000000123}""");

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal(1732000000123, readings.Single().TimestampMs);
    }

    [Fact]
    public void Should_make_two_streams_of_the_item3_fan_with_device_and_time_from_fields()
    {
        var (outcome, readings) = Parse("sensors/dc2/gw/fan", """{"TIME":"2019-09-09T10:00:00","FANID":"ABC123456","FREQ":40,"RPM":1200}""");

        Assert.True(outcome.Ok, outcome.Detail);
        var time = new DateTimeOffset(2019, 9, 9, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Assert.Equal([new Reading("dc2/ABC123456/FREQ", time, 40), new Reading("dc2/ABC123456/RPM", time, 1200)], readings);
    }

    [Fact]
    public void Should_convert_delimited_item1_text_into_one_stream_per_named_column()
    {
        var (outcome, readings) = Parse("sensors/lab/esp8266/text", "12.5;21.25;40\n");

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal(
            [
                new Reading("lab/esp8266/distance", Arrival, 12.5),
                new Reading("lab/esp8266/temperature", Arrival, 21.25),
                new Reading("lab/esp8266/humidity", Arrival, 40),
            ],
            readings);
    }

    [Fact]
    public void Should_read_a_plain_number_with_the_metric_from_the_topic()
    {
        var (outcome, readings) = Parse("sensors/dc1/boiler-7/temperature", " 71.5 ");

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal([new Reading("dc1/boiler-7/temperature", Arrival, 71.5)], readings);
    }

    [Theory]
    [InlineData(200, 0)]
    [InlineData(0, 200)]
    [InlineData(100, 100)]
    public void Should_read_a_plain_number_padded_past_the_short_payload_path(int leading, int trailing)
    {
        // Short ASCII payloads are parsed on the stack, longer or non-ASCII ones through a decoded
        // string; both must agree.
        var payload = new string(' ', leading) + "-3.25e2" + new string('\n', trailing);

        var (outcome, readings) = Parse("sensors/dc1/boiler-7/temperature", payload);

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal(-325.0, readings.Single().Value);
    }

    [Fact]
    public void Should_accept_numbers_sent_as_text_in_json()
    {
        var (outcome, readings) = Parse("sensors/dc1/d/demo", """{"iotValue":"17.5"}""");

        Assert.True(outcome.Ok, outcome.Detail);
        Assert.Equal(17.5, readings.Single().Value);
    }

    [Theory]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":15", DeadLetterReason.InvalidJson)]
    [InlineData("sensors/dc1/d/demo", "not json at all", DeadLetterReason.InvalidJson)]
    [InlineData("sensors/dc1/d/demo", "[1,2,3]", DeadLetterReason.InvalidJson)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":15} trailing", DeadLetterReason.InvalidJson)]
    [InlineData("sensors/dc1/d/demo", "{\"iotName\":\"x\"}", DeadLetterReason.MissingField)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":\"high\"}", DeadLetterReason.NotNumeric)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":true}", DeadLetterReason.NotNumeric)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":{\"v\":1}}", DeadLetterReason.NotNumeric)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":\"NaN\"}", DeadLetterReason.NotFinite)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":\"-Infinity\"}", DeadLetterReason.NotFinite)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":1e999}", DeadLetterReason.NotFinite)]
    [InlineData("sensors/dc1/d/demo", "{\"iotValue\":15,\"ts\":\"yesterday\"}", DeadLetterReason.InvalidTimestamp)]
    [InlineData("sensors/dc1/gw/fan", "{\"TIME\":\"2019-09-09T10:00:00\",\"FREQ\":40,\"RPM\":1200}", DeadLetterReason.MissingField)]
    [InlineData("sensors/dc1/gw/fan", "{\"TIME\":\"2019-09-09T10:00:00\",\"FANID\":\"a/b\",\"FREQ\":40,\"RPM\":1200}", DeadLetterReason.InvalidKey)]
    [InlineData("sensors/dc1/gw/fan", "{\"FANID\":\"A\",\"FREQ\":40,\"RPM\":1200}", DeadLetterReason.MissingField)]
    [InlineData("sensors/lab/esp/text", "12.5;21.25", DeadLetterReason.MissingField)]
    [InlineData("sensors/lab/esp/text", "12.5;warm;40", DeadLetterReason.NotNumeric)]
    [InlineData("sensors/lab/esp/text", "12.5;NaN;40", DeadLetterReason.NotFinite)]
    [InlineData("sensors/dc1/d/temperature", "seventy", DeadLetterReason.NotNumeric)]
    [InlineData("elsewhere/x", "15", DeadLetterReason.UnknownFormat)]
    [InlineData("sensors/dc1", "15", DeadLetterReason.UnknownFormat)]
    public void Should_reject_bad_input_with_its_reason_and_add_nothing(string topic, string payload, DeadLetterReason reason)
    {
        var (outcome, readings) = Parse(topic, payload);

        Assert.False(outcome.Ok);
        Assert.Equal(reason, outcome.Reason);
        Assert.NotEmpty(outcome.Detail);
        Assert.Empty(readings);
    }

    [Fact]
    public void Should_add_nothing_when_the_second_metric_of_a_message_is_bad()
    {
        var readings = new List<Reading> { new("earlier/reading/kept", 1, 1) };

        var outcome = _parser.Parse("sensors/dc1/gw/fan", Encoding.UTF8.GetBytes("""{"TIME":"2019-09-09T10:00:00","FANID":"A","FREQ":40,"RPM":"stalled"}"""), Arrival, readings);

        Assert.Equal(DeadLetterReason.NotNumeric, outcome.Reason);
        Assert.Single(readings);
    }

    [Fact]
    public void Should_reject_a_payload_over_the_maximum_size_without_parsing_it()
    {
        var parser = new PayloadParser(DefaultFormats.Load().Formats, maxPayloadBytes: 64);
        var readings = new List<Reading>();

        var outcome = parser.Parse("sensors/dc1/d/demo", new byte[65], Arrival, readings);

        Assert.Equal(DeadLetterReason.PayloadTooLarge, outcome.Reason);
        Assert.Empty(readings);
    }

    [Fact]
    public void Should_reject_text_that_is_not_utf8()
    {
        var readings = new List<Reading>();

        var outcome = _parser.Parse("sensors/dc1/d/temperature", [0xff, 0xfe, 0x31], Arrival, readings);

        Assert.Equal(DeadLetterReason.InvalidText, outcome.Reason);
    }

    [Fact]
    public void Should_take_the_first_matching_format()
    {
        // "demo" also matches the catch-all number format; JSON must win because it comes first.
        var (outcome, readings) = Parse("sensors/dc1/d/demo", """{"iotValue":15}""");

        Assert.True(outcome.Ok);
        Assert.Equal("dc1/d/iotValue", readings.Single().StreamKey);
    }
}

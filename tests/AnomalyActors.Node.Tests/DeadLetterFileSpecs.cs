using System.Text;
using System.Text.Json;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Node.Outputs;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class DeadLetterFileSpecs : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"dead-letters-{Guid.NewGuid():N}", "dead-letters.jsonl");

    [Fact]
    public void Should_write_reason_detail_and_raw_payload_as_a_json_line()
    {
        using (var file = new DeadLetterFile(_path, maxPayloadChars: 100))
        {
            file.Write(new DeadLetter("mqtt:x", "sensors/a/b/demo", DeadLetterReason.NotNumeric, "'iotValue' is not a number: 'high'",
                Encoding.UTF8.GetBytes("""{"iotValue":"high"}"""), 1_700_000_000_000));
        }

        var line = JsonDocument.Parse(File.ReadAllLines(_path).Single()).RootElement;
        Assert.Equal("NotNumeric", line.GetProperty("reason").GetString());
        Assert.Equal("sensors/a/b/demo", line.GetProperty("topic").GetString());
        Assert.Equal("""{"iotValue":"high"}""", line.GetProperty("payload").GetString());
        Assert.Equal("utf-8", line.GetProperty("payloadEncoding").GetString());
        Assert.False(line.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public void Should_truncate_long_payloads_and_base64_binary_ones()
    {
        using (var file = new DeadLetterFile(_path, maxPayloadChars: 16))
        {
            file.Write(new DeadLetter("s", "t", DeadLetterReason.PayloadTooLarge, "big", Encoding.UTF8.GetBytes(new string('x', 1000)), 0));
            file.Write(new DeadLetter("s", "t", DeadLetterReason.InvalidText, "binary", new byte[] { 0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 }, 0));
        }

        var lines = File.ReadAllLines(_path).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(new string('x', 16), lines[0].GetProperty("payload").GetString());
        Assert.True(lines[0].GetProperty("truncated").GetBoolean());
        Assert.Equal(1000, lines[0].GetProperty("payloadBytes").GetInt32());
        Assert.Equal("base64", lines[1].GetProperty("payloadEncoding").GetString());
        Assert.Equal(Convert.ToBase64String(new byte[] { 0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }), lines[1].GetProperty("payload").GetString());
    }

    [Fact]
    public void Should_append_to_an_existing_file()
    {
        using (var file = new DeadLetterFile(_path, 100))
        {
            file.Write(new DeadLetter("s", "t", DeadLetterReason.InvalidJson, "first", new byte[] { 1 }, 0));
        }

        using (var file = new DeadLetterFile(_path, 100))
        {
            file.Write(new DeadLetter("s", "t", DeadLetterReason.InvalidJson, "second", new byte[] { 1 }, 0));
        }

        Assert.Equal(2, File.ReadAllLines(_path).Length);
    }

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);
}

using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Ingestion.Payload;
using AnomalyActors.Ingestion.Replay;
using Xunit;

namespace AnomalyActors.Ingestion.Tests;

public sealed class CsvReplayReaderSpecs : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}");

    public CsvReplayReaderSpecs() => Directory.CreateDirectory(_directory);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Should_read_nab_files_as_one_stream_named_after_the_file()
    {
        var path = Write("speed_7578.csv", "timestamp,value\n2015-09-08 11:39:00,73\n2015-09-08 11:44:00,62.5\n");

        var rows = CsvReplayReader.Read(path).ToArray();

        Assert.All(rows, r => Assert.True(r.Ok));
        Assert.Equal(["replay/speed_7578/value", "replay/speed_7578/value"], rows.Select(r => r.Reading.StreamKey));
        Assert.Equal(new DateTimeOffset(2015, 9, 8, 11, 44, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), rows[1].Reading.TimestampMs);
        Assert.Equal(62.5, rows[1].Reading.Value);
    }

    [Fact]
    public void Should_key_array_of_things_rows_by_sensor_and_parameter()
    {
        var path = Write("aot.csv", "timestamp,sensor,parameter,value\n2016-11-10 00:00:03,TSYS01,temperature,8.5\n2016-11-10 00:00:03,Chemsense,no2,0.1\n");

        var rows = CsvReplayReader.Read(path).ToArray();

        Assert.Equal(["replay/TSYS01_temperature/value", "replay/Chemsense_no2/value"], rows.Select(r => r.Reading.StreamKey));
    }

    [Fact]
    public void Should_report_bad_lines_with_a_reason_and_keep_reading()
    {
        var path = Write("mixed.csv", "timestamp,value\n2015-09-08 11:39:00,1\nnot a time,2\n2015-09-08 11:49:00,abc\n2015-09-08 11:54:00\n2015-09-08 11:59:00,NaN\n2015-09-08 12:04:00,6\n");

        var rows = CsvReplayReader.Read(path).ToArray();

        Assert.Equal(
            [null, DeadLetterReason.InvalidTimestamp, DeadLetterReason.NotNumeric, DeadLetterReason.MissingField, DeadLetterReason.NotFinite, null],
            rows.Select(r => r.Ok ? (DeadLetterReason?)null : r.Reason));
        Assert.Equal(7, rows[^1].Line);
    }

    [Fact]
    public void Should_refuse_an_unknown_header()
    {
        var path = Write("other.csv", "time,a,b\n1,2,3\n");

        Assert.Throws<FormatException>(() => CsvReplayReader.Read(path).ToArray());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

using AnomalyActors.Archive.Collecting;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class ResultLogSpecs
{
    private static byte[] Record(long n) => BitConverter.GetBytes(n * 7919).Concat(new byte[n % 13]).ToArray();

    private static List<(long Offset, byte[] Payload)> ReadAll(ResultLog log, long from)
    {
        var records = new List<(long, byte[])>();
        while (log.Read(from, 1000, (offset, payload) => records.Add((offset, payload.ToArray()))) > 0)
        {
            from = records[^1].Item1 + 1;
        }

        return records;
    }

    [Fact]
    public void Should_read_back_every_flushed_record_in_order_across_segments()
    {
        var directory = ScratchDirectory.Create("anomaly-actors-result-log");
        using var log = ResultLog.Open(directory, segmentBytes: 4096);
        for (var n = 0L; n < 3000; n++)
        {
            Assert.Equal(n, log.Append(Record(n)));
            if (n % 100 == 99)
            {
                log.Flush();
                log.DeleteBelow(0); // rolls a full segment over without deleting anything
            }
        }

        log.Flush();

        var records = ReadAll(log, 0);

        Assert.Equal(Enumerable.Range(0, 3000).Select(n => (long)n), records.Select(r => r.Offset));
        Assert.All(records, r => Assert.Equal(Record(r.Offset), r.Payload));
        Assert.True(Directory.GetFiles(directory).Length > 5, "several segments");
    }

    [Fact]
    public void Should_not_show_records_before_they_are_flushed()
    {
        using var log = ResultLog.Open(ScratchDirectory.Create("anomaly-actors-result-log"));
        log.Append(Record(1));

        Assert.Empty(ReadAll(log, 0));
        log.Flush();
        Assert.Single(ReadAll(log, 0));
    }

    [Fact]
    public void Should_count_records_durable_once_a_full_buffer_went_to_the_file_without_a_flush()
    {
        using var log = ResultLog.Open(ScratchDirectory.Create("anomaly-actors-result-log"));
        var record = new byte[1000];
        long last = -1;
        while (log.Durable == 0)
        {
            last = log.Append(record);
            Assert.True(last < 1000, "a 64 KB buffer holds fewer than 1000 records of 1 KB");
        }

        Assert.Equal(last, log.Durable);
        Assert.Equal(last, ReadAll(log, 0).Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(11)]
    public void Should_cut_off_a_torn_last_record_when_opened_again(int bytesOfTheLastRecord)
    {
        // Arrange: the process died in the middle of writing record 50.
        var directory = ScratchDirectory.Create("anomaly-actors-result-log");
        using (var log = ResultLog.Open(directory))
        {
            for (var n = 0L; n < 51; n++)
            {
                log.Append(Record(n));
            }
        }

        var segment = Directory.GetFiles(directory).Single();
        var whole = new FileInfo(segment).Length;
        var last = 8 + Record(50).Length;
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(whole - last + bytesOfTheLastRecord);
        }

        // Act
        using var reopened = ResultLog.Open(directory);
        var next = reopened.Append(Record(50));
        reopened.Flush();

        // Assert
        Assert.Equal(50, next);
        var records = ReadAll(reopened, 0);
        Assert.Equal(51, records.Count);
        Assert.Equal(Record(50), records[^1].Payload);
    }

    [Fact]
    public void Should_delete_only_segments_wholly_below_the_archived_offset()
    {
        var directory = ScratchDirectory.Create("anomaly-actors-result-log");
        using var log = ResultLog.Open(directory, startAt: 1000, segmentBytes: 1024);
        for (var n = 1000L; n < 1600; n++)
        {
            log.Append(Record(n));
            if (n % 50 == 49)
            {
                log.Flush();
                log.DeleteBelow(1000);
            }
        }

        log.Flush();

        log.DeleteBelow(1300);

        Assert.InRange(log.First, 1001, 1300);
        var records = ReadAll(log, 1300);
        Assert.Equal(Enumerable.Range(1300, 300).Select(n => (long)n), records.Select(r => r.Offset));
        Assert.Throws<InvalidOperationException>(() => log.Read(1000, 10, (_, _) => { }));
    }

    [Fact]
    public void Should_refuse_an_empty_or_huge_record()
    {
        using var log = ResultLog.Open(ScratchDirectory.Create("anomaly-actors-result-log"));

        Assert.Throws<ArgumentException>(() => log.Append([]));
        Assert.Throws<ArgumentException>(() => log.Append(new byte[ResultLog.MaxRecordBytes + 1]));
    }

    [Fact]
    public void Should_read_the_records_of_a_log_written_with_the_earlier_checksum_and_go_on_after_them()
    {
        // Arrange: a segment as earlier versions wrote it, [length][FNV-1a][payload] per record.
        var directory = ScratchDirectory.Create("anomaly-actors-result-log");
        using (var segment = File.Create(Path.Combine(directory, 0L.ToString("D20") + ".log")))
        {
            for (var n = 0L; n < 20; n++)
            {
                var payload = Record(n);
                segment.Write(BitConverter.GetBytes(payload.Length));
                segment.Write(BitConverter.GetBytes(Fnv1a(payload)));
                segment.Write(payload);
            }
        }

        // Act
        using var log = ResultLog.Open(directory);
        var next = log.Append(Record(20));
        log.Flush();

        // Assert
        Assert.Equal(20, next);
        var records = ReadAll(log, 0);
        Assert.Equal(Enumerable.Range(0, 21).Select(n => (long)n), records.Select(r => r.Offset));
        Assert.All(records, r => Assert.Equal(Record(r.Offset), r.Payload));
    }

    [Fact]
    public void Should_refuse_to_read_a_record_whose_bytes_changed_on_disk()
    {
        var directory = ScratchDirectory.Create("anomaly-actors-result-log");
        using var log = ResultLog.Open(directory);
        for (var n = 0L; n < 10; n++)
        {
            log.Append(Record(n));
        }

        log.Flush();
        var segment = Directory.GetFiles(directory).Single();
        var bytes = File.ReadAllBytes(segment);
        var fifth = Enumerable.Range(0, 5).Sum(n => 8 + Record(n).Length);
        using (var file = new FileStream(segment, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            file.Position = fifth + 8;
            file.WriteByte((byte)(bytes[fifth + 8] ^ 0x40));
        }

        var error = Assert.Throws<InvalidDataException>(() => ReadAll(log, 0));
        Assert.Contains("record 5 fails its checksum", error.Message);
    }

    private static uint Fnv1a(byte[] data)
    {
        var hash = 2166136261u;
        foreach (var b in data)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }
}

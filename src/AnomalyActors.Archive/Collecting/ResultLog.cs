using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace AnomalyActors.Archive.Collecting;

/// <summary>
/// A node's own append-only log of result records on its local disk, for when no Kafka topic holds
/// them: the sink appends a record and confirms it to its sensor once the bytes are with the
/// operating system (a killed process loses nothing it confirmed, as with the node's SQLite journal
/// in its default mode); the archive collector reads it in offset order into Parquet files and
/// deletes the segments its committed files cover. Offsets count records from 0 and never repeat.
/// Frames are <c>[length][checksum][payload]</c>, the checksum a CRC-32 of the payload (flagged in
/// the length's top bit; frames without the flag carry the FNV-1a of earlier versions); a torn
/// frame at the end (the process died in the middle of a write) is cut off when the log is opened.
/// One process uses a log at a time (the data directory's lock).
/// </summary>
public sealed class ResultLog : IDisposable
{
    private const string SegmentExtension = ".log";
    /// <summary>A frame's length and checksum before its payload.</summary>
    internal const int HeaderBytes = 8;
    private const int Crc32Flag = 1 << 30;

    /// <summary>The largest record accepted; far above any result record.</summary>
    public const int MaxRecordBytes = 1 << 20;

    private readonly string _directory;
    private readonly long _segmentBytes;
    private readonly object _gate = new();
    private FileStream _tail;
    private long _tailFirst;
    private long _next;
    private byte[] _buffer = new byte[64 * 1024];
    private int _buffered;

    // Where the last read ended, so the next one does not scan its segment from the start.
    private (long Offset, string Path, long Position) _cursor = (-1, string.Empty, 0);

    private ResultLog(string directory, long segmentBytes, FileStream tail, long tailFirst, long next)
    {
        _directory = directory;
        _segmentBytes = segmentBytes;
        _tail = tail;
        _tailFirst = tailFirst;
        _next = next;
        Durable = next;
    }

    /// <summary>The first offset the log still holds.</summary>
    public long First => Segments(_directory) is { Count: > 0 } segments ? segments[0].First : _tailFirst;

    /// <summary>The offset the next record gets.</summary>
    public long Next => Volatile.Read(ref _next);

    /// <summary>Records below this offset are written to the operating system (readable, and kept if the process dies).</summary>
    public long Durable
    {
        get => Volatile.Read(ref _durable);
        private set => Volatile.Write(ref _durable, value);
    }

    private long _durable;

    /// <summary>
    /// Opens (or creates) the log in <paramref name="directory"/>, cutting off a torn last frame.
    /// A new log numbers its records from <paramref name="startAt"/>.
    /// </summary>
    public static ResultLog Open(string directory, long startAt = 0, long segmentBytes = 64L * 1024 * 1024)
    {
        Directory.CreateDirectory(directory);
        var segments = Segments(directory);
        if (segments.Count == 0)
        {
            var first = Path.Combine(directory, SegmentName(startAt));
            return new ResultLog(directory, segmentBytes, OpenForAppend(first), startAt, startAt);
        }

        var (tailFirst, tailPath) = segments[^1];
        var (records, validBytes) = Scan(tailPath);
        var tail = OpenForAppend(tailPath);
        if (tail.Length != validBytes)
        {
            tail.SetLength(validBytes);
        }

        tail.Seek(validBytes, SeekOrigin.Begin);
        return new ResultLog(directory, segmentBytes, tail, tailFirst, tailFirst + records);
    }

    /// <summary>Adds a record to the buffer; <see cref="Flush"/> makes it durable. Returns its offset.</summary>
    public long Append(ReadOnlySpan<byte> payload)
    {
        // Sealing checks the record's size.
        Span<byte> header = stackalloc byte[HeaderBytes];
        Seal(header, payload);
        lock (_gate)
        {
            var at = Reserve(HeaderBytes + payload.Length);
            header.CopyTo(at);
            payload.CopyTo(at[HeaderBytes..]);
            return _next++;
        }
    }

    /// <summary>
    /// Writes the header of the frame whose payload follows <paramref name="header"/>; callers that
    /// append several records at once frame them outside the log's lock.
    /// </summary>
    internal static void Seal(Span<byte> header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length is 0 or > MaxRecordBytes)
        {
            throw new ArgumentException($"A result record has 1 to {MaxRecordBytes} bytes, not {payload.Length}.", nameof(payload));
        }

        BinaryPrimitives.WriteInt32LittleEndian(header, payload.Length | Crc32Flag);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Crc32.HashToUInt32(payload));
    }

    /// <summary>Adds <paramref name="records"/> frames sealed by <see cref="Seal"/>, in order; returns the last one's offset.</summary>
    internal long AppendSealed(ReadOnlySpan<byte> frames, int records)
    {
        lock (_gate)
        {
            frames.CopyTo(Reserve(frames.Length));
            _next += records;
            return _next - 1;
        }
    }

    private Span<byte> Reserve(int bytes)
    {
        if (_buffered + bytes > _buffer.Length)
        {
            WriteBuffer();
            if (bytes > _buffer.Length)
            {
                _buffer = new byte[bytes];
            }
        }

        var reserved = _buffer.AsSpan(_buffered, bytes);
        _buffered += bytes;
        return reserved;
    }

    /// <summary>Hands every appended record to the operating system.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            WriteBuffer();
            _tail.Flush();
        }
    }

    /// <summary>
    /// Reads records from <paramref name="from"/> on, up to <paramref name="max"/> of them and only
    /// those already durable, calling <paramref name="record"/> with each offset and payload.
    /// Returns how many were read.
    /// </summary>
    public int Read(long from, int max, Action<long, ReadOnlySpan<byte>> record)
    {
        var durable = Durable;
        if (from >= durable)
        {
            return 0;
        }

        var segments = Segments(_directory);
        var index = segments.FindLastIndex(s => s.First <= from);
        if (index < 0)
        {
            throw new InvalidOperationException($"Result log {_directory} no longer holds offset {from} (it starts at {segments[0].First}).");
        }

        var count = 0;
        var header = new byte[HeaderBytes];
        var payload = new byte[4096];
        for (; index < segments.Count && count < max; index++)
        {
            var (first, path) = segments[index];
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);

            // Taken once (each Length asks the operating system): the durable records were written
            // before the stream was opened, so they all lie within it.
            var end = stream.Length;
            var offset = first;
            if (_cursor.Offset == from && _cursor.Path == path)
            {
                stream.Seek(_cursor.Position, SeekOrigin.Begin);
                offset = from;
            }

            while (count < max && offset < durable)
            {
                var frame = ReadFrame(stream, end, header, ref payload, verify: offset >= from, out var length);
                if (frame == Frame.End)
                {
                    break;
                }

                if (frame != Frame.Whole)
                {
                    throw new InvalidDataException(frame == Frame.BadLength
                        ? $"Result log segment {path} has a frame of {length} bytes at offset {offset}."
                        : $"Result log segment {path}: record {offset} fails its checksum.");
                }

                if (offset >= from)
                {
                    record(offset, payload.AsSpan(0, length));
                    count++;
                }

                offset++;
            }

            _cursor = (offset, path, stream.Position);
        }

        return count;
    }

    /// <summary>Deletes the segments whose records all lie below <paramref name="offset"/> (they are archived).</summary>
    public void DeleteBelow(long offset)
    {
        lock (_gate)
        {
            if (_next - _tailFirst > 0 && _tail.Length >= _segmentBytes)
            {
                // Start a new segment so that the full one can go once it is archived.
                WriteBuffer();
                _tail.Flush();
                _tail.Dispose();
                _tailFirst = _next;
                _tail = OpenForAppend(Path.Combine(_directory, SegmentName(_tailFirst)));
            }

            var segments = Segments(_directory);
            for (var i = 0; i + 1 < segments.Count; i++)
            {
                if (segments[i + 1].First <= offset)
                {
                    File.Delete(segments[i].Path);
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            Flush();
            _tail.Dispose();
        }
    }

    // The buffer holds exactly the records from Durable on: once written, all of them are durable.
    private void WriteBuffer()
    {
        if (_buffered > 0)
        {
            _tail.Write(_buffer, 0, _buffered);
            _buffered = 0;
            Durable = _next;
        }
    }

    private static FileStream OpenForAppend(string path)
    {
        // Unbuffered: the log keeps its own buffer, and Flush must reach the operating system.
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, 1);
        stream.Seek(0, SeekOrigin.End);
        return stream;
    }

    /// <summary>Counts the whole frames at the start of a segment and the bytes they take.</summary>
    private static (long Records, long Bytes) Scan(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        var header = new byte[HeaderBytes];
        var payload = new byte[4096];
        var end = stream.Length;
        long records = 0, bytes = 0;
        while (ReadFrame(stream, end, header, ref payload, verify: true, out var length) == Frame.Whole)
        {
            records++;
            bytes += HeaderBytes + length;
        }

        return (records, bytes);
    }

    private enum Frame
    {
        Whole,
        End,
        BadLength,
        BadChecksum,
    }

    /// <summary>
    /// Reads the next frame's payload into <paramref name="payload"/> (grown as needed). End: no
    /// whole header left; a length out of bounds or beyond <paramref name="end"/> (the file's
    /// length) is BadLength.
    /// </summary>
    private static Frame ReadFrame(FileStream stream, long end, byte[] header, ref byte[] payload, bool verify, out int length)
    {
        length = 0;
        if (stream.Read(header) < HeaderBytes)
        {
            return Frame.End;
        }

        var field = BinaryPrimitives.ReadInt32LittleEndian(header);
        var crc = (field & Crc32Flag) != 0;
        length = field & ~Crc32Flag;
        if (length is <= 0 or > MaxRecordBytes || end - stream.Position < length)
        {
            return Frame.BadLength;
        }

        if (payload.Length < length)
        {
            payload = new byte[length];
        }

        stream.ReadExactly(payload, 0, length);
        var data = payload.AsSpan(0, length);
        return verify && (crc ? Crc32.HashToUInt32(data) : Fnv1a(data)) != BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4))
            ? Frame.BadChecksum
            : Frame.Whole;
    }

    private static List<(long First, string Path)> Segments(string directory)
    {
        var segments = new List<(long First, string Path)>();
        foreach (var path in Directory.EnumerateFiles(directory, "*" + SegmentExtension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                segments.Add((first, path));
            }
        }

        segments.Sort((a, b) => a.First.CompareTo(b.First));
        return segments;
    }

    private static string SegmentName(long first) => first.ToString("D20", CultureInfo.InvariantCulture) + SegmentExtension;

    // Tells a torn or overwritten frame from a whole one in logs of earlier versions; not a defence against tampering.
    private static uint Fnv1a(ReadOnlySpan<byte> data)
    {
        var hash = 2166136261u;
        foreach (var b in data)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }
}

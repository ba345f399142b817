using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AnomalyActors.Core.DeadLetters;

namespace AnomalyActors.Node.Outputs;

/// <summary>
/// Appends dead letters as JSON lines: time, source, topic, reason, detail, the payload's size and
/// the payload itself (UTF-8 text, or base64 when it is not text), truncated to a configured length.
/// Each line reaches the operating system before <see cref="Write"/> returns, so a message is only
/// acknowledged to its broker after its dead letter survives a process crash.
/// </summary>
public sealed class DeadLetterFile : IDeadLetterSink, IDisposable
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly Lock _gate = new();
    private readonly FileStream _file;
    private readonly int _maxPayloadChars;
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private long _total;

    public DeadLetterFile(string path, int maxPayloadChars)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPayloadChars, 16);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        FilePath = path;
        _maxPayloadChars = maxPayloadChars;
        _total = JsonLines.Count(path);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
    }

    public string FilePath { get; }

    /// <summary>Dead letters in the file: those of earlier runs and of this one.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Write(DeadLetter letter)
    {
        ArgumentNullException.ThrowIfNull(letter);
        lock (_gate)
        {
            _line.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(_line))
            {
                json.WriteStartObject();
                json.WriteString("time", DateTimeOffset.FromUnixTimeMilliseconds(letter.ArrivalMs).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                json.WriteString("source", letter.Source);
                json.WriteString("topic", letter.Topic);
                json.WriteString("reason", letter.Reason.ToString());
                json.WriteString("detail", letter.Detail);
                json.WriteNumber("payloadBytes", letter.Payload.Length);
                var (payload, encoding, truncated) = Render(letter.Payload.Span);
                json.WriteString("payloadEncoding", encoding);
                json.WriteString("payload", payload);
                json.WriteBoolean("truncated", truncated);
                json.WriteEndObject();
            }

            _file.Write(_line.WrittenSpan);
            _file.WriteByte((byte)'\n');
            _file.Flush();
            Interlocked.Increment(ref _total);
        }
    }

    private (string Text, string Encoding, bool Truncated) Render(ReadOnlySpan<byte> payload)
    {
        try
        {
            var text = StrictUtf8.GetString(payload);
            return text.Length <= _maxPayloadChars ? (text, "utf-8", false) : (text[.._maxPayloadChars], "utf-8", true);
        }
        catch (DecoderFallbackException)
        {
            // Base64 grows 4/3, so this many bytes fill the same number of characters.
            var bytes = Math.Min(payload.Length, _maxPayloadChars / 4 * 3);
            return (Convert.ToBase64String(payload[..bytes]), "base64", bytes < payload.Length);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file.Dispose();
        }
    }
}

namespace AnomalyActors.Core.Protocol;

/// <summary>
/// Who sent a message and under which number, enough to recognise it when it is sent again. For MQTT:
/// the session (the subscriber's, or a publishing device's client id), the packet identifier, and a
/// hash of the topic and payload. MQTT resends an unacknowledged QoS 1/2 message with its original
/// packet identifier and the DUP flag; a session never has two unacknowledged messages under one
/// identifier, so within a window of its latest messages the identifier, checked against the
/// content, names one message.
/// </summary>
public readonly record struct DeliveryKey(string Session, ushort PacketId, ulong ContentHash)
{
    /// <summary>
    /// 64-bit FNV-1a of the topic and the payload: the same on every run and machine (unlike
    /// <see cref="HashCode"/>), so keys stored before a crash match after it.
    /// </summary>
    public static ulong HashOf(string topic, ReadOnlySpan<byte> payload)
    {
        const ulong prime = 1099511628211;
        var hash = 14695981039346656037;
        foreach (var c in topic)
        {
            hash = (hash ^ (byte)c) * prime;
            hash = (hash ^ (byte)(c >> 8)) * prime;
        }

        // Keeps "ab" + "c" apart from "a" + "bc".
        hash = (hash ^ 0xFF) * prime;
        foreach (var b in payload)
        {
            hash = (hash ^ b) * prime;
        }

        return hash;
    }
}

/// <summary>
/// One message of a source batch: its key (default when the source gives it none, as for QoS 0),
/// whether the source marked it as a resend, how many of the batch's readings (the next ones, in
/// order) it produced, and its session's window: how many of the session's latest messages can still
/// come again, the most it may have unacknowledged at once (the MQTT receive maximum).
/// </summary>
public readonly record struct Delivery(DeliveryKey Key, bool Resent, int ReadingCount, int Window);

/// <summary>
/// The messages behind a batch's readings, in the readings' order, so that the intake stores a
/// message's readings once however often the source delivers it.
/// </summary>
public sealed record DeliveryLog(Delivery[] Items)
{
    public int ReadingCount
    {
        get
        {
            var count = 0;
            foreach (var item in Items)
            {
                count += item.ReadingCount;
            }

            return count;
        }
    }
}

/// <summary>The keys of the messages whose readings a stored chunk holds, each with its session's window.</summary>
public sealed record ChunkDeliveries(DeliveryKey[] Keys, int[] Windows);

namespace AnomalyActors.Detection;

/// <summary>
/// Spaces detections out: once a score reaches <c>Trigger</c>, the scores of the next <c>Hold</c> readings are
/// multiplied by <c>Factor</c>, so a burst raises one alert instead of many (NAB credits only the earliest
/// detection in a window and charges every false positive; operators feel the same way).
/// </summary>
/// <remarks>
/// Per score s: if fewer than Hold readings have passed since the last trigger, return s * Factor (a damped
/// score never re-triggers); else if s &gt;= Trigger, this reading becomes the last trigger and s is returned;
/// else s is returned. No allocation; the state round-trips exactly.
/// </remarks>
public sealed class DetectionSpacing
{
    private const byte StateVersion = 1;
    private const string Name = "detection spacing";

    private long _count;
    private long _sinceTrigger = long.MaxValue;

    /// <param name="trigger">Score at which a reading counts as a detection; finite.</param>
    /// <param name="hold">Readings after a detection whose scores are damped; non-negative.</param>
    /// <param name="factor">Multiplier of damped scores, in [0, 1].</param>
    public DetectionSpacing(double trigger = 0.5, int hold = 200, double factor = 0.5)
    {
        if (!double.IsFinite(trigger))
        {
            throw new ArgumentOutOfRangeException(nameof(trigger), trigger, "Must be finite.");
        }

        if (hold < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(hold), hold, "Must be non-negative.");
        }

        if (!(factor >= 0 && factor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "Must be in [0, 1].");
        }

        Trigger = trigger;
        Hold = hold;
        Factor = factor;
    }

    public double Trigger { get; }

    public int Hold { get; }

    public double Factor { get; }

    public long Count => _count;

    /// <summary>Whether the latest score was damped.</summary>
    public bool Holding { get; private set; }

    public double Update(double score)
    {
        Guard.Finite(score, nameof(score));
        _count++;
        if (_sinceTrigger < Hold)
        {
            _sinceTrigger++;
            Holding = true;
            return score * Factor;
        }

        Holding = false;
        if (score >= Trigger)
        {
            _sinceTrigger = 0;
        }

        return score;
    }

    // Layout v1: version byte, count (int64), readings since the last trigger (int64), holding.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(_count);
        writer.Write(_sinceTrigger);
        writer.Write(Holding);
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, Name);
        var count = reader.ReadInt64();
        var since = reader.ReadInt64();
        var holding = reader.ReadBoolean();
        if (count < 0 || since < 0)
        {
            throw new InvalidDataException($"The {Name} state has a negative counter.");
        }

        _count = count;
        _sinceTrigger = since;
        Holding = holding;
    }
}

namespace AnomalyActors.Detection.Rcf;

/// <summary>
/// Random Cut Forest scored the way NAB's HTM entry is (the NAB harness's <c>best</c>): per reading, the raw
/// forest score (0 until the forest is ready) goes through <see cref="AnomalyLikelihood"/>; a reading outside
/// the widened range of all earlier readings (<see cref="RangeNovelty"/>) scores 1 instead; when the stream
/// follows a learned cycle (<see cref="SeasonalResidual"/>), its residual's score counts when higher; the
/// result passes through <see cref="DetectionSpacing"/>. That score is the <see cref="DetectorScore.Grade"/>, and the reading
/// is out of band when it reaches <see cref="LikelihoodRcfOptions.Threshold"/>. The value band fields stay NaN.
/// </summary>
/// <remarks>No allocation per reading; the state (version byte, then the four parts) round-trips exactly.</remarks>
public sealed class LikelihoodRcf : IDetector
{
    public const string KindName = "rcfl";

    // Version 2 added the seasonal part; a version 1 state (written before it) restores with a fresh one.
    private const byte StateVersion = 2;

    private readonly LikelihoodRcfOptions _options;
    private RcfDetector _rcf;
    private AnomalyLikelihood _likelihood;
    private RangeNovelty _range;
    private DetectionSpacing _spacing;
    private SeasonalResidual? _seasonal;

    public LikelihoodRcf(LikelihoodRcfOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        (_rcf, _likelihood, _range, _spacing) = CreateParts(options);
        _seasonal = CreateSeasonal(options);
    }

    public string Kind => KindName;

    public long Count => _rcf.Count;

    public LikelihoodRcfOptions Options => _options;

    /// <summary>Raw forest score of the latest reading (0 while the forest is not ready).</summary>
    public double LastRawScore => _rcf.LastScore;

    /// <summary>Likelihood log score of the latest raw score, before the range check and spacing.</summary>
    public double LastLikelihood => _likelihood.LastLogLikelihood;

    /// <summary>Whether the latest reading lay outside the widened range of the earlier ones.</summary>
    public bool LastNovel { get; private set; }

    /// <summary>The learned cycle's part (null when off): whether it explains the stream, its latest score.</summary>
    public SeasonalResidual? Seasonal => _seasonal;

    /// <summary>Whether the latest score was damped by spacing.</summary>
    public bool Holding => _spacing.Holding;

    /// <summary>The forest, for attribution of alarms (<see cref="RcfDetector.Explain"/>).</summary>
    public RcfDetector Forest => _rcf;

    public DetectorScore Update(long timestampMs, double value)
    {
        Guard.Finite(value, nameof(value));
        _rcf.Update(timestampMs, value);
        var score = _likelihood.Update(_rcf.Ready ? _rcf.LastScore : 0);
        LastNovel = _range.Update(value);
        if (LastNovel)
        {
            score = 1;
        }

        if (_seasonal is not null)
        {
            score = Math.Max(score, _seasonal.Update(timestampMs, value));
        }

        var grade = _spacing.Update(score);
        return new DetectorScore(double.NaN, double.NaN, double.NaN, double.NaN, grade >= _options.Threshold, grade);
    }

    // Layout v2: version byte, last-novel flag, then the states of the forest detector, the likelihood,
    // the range novelty and the spacing, each with its own version byte, then a flag and, when set, the
    // seasonal part's state. Version 1 ended after the spacing.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(LastNovel);
        _rcf.WriteState(writer);
        _likelihood.WriteState(writer);
        _range.WriteState(writer);
        _spacing.WriteState(writer);
        writer.Write(_seasonal is not null);
        _seasonal?.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var version = StateFormat.ReadVersion(reader, 1, StateVersion, KindName);
        var lastNovel = reader.ReadBoolean();

        // Fresh parts so a truncated or inconsistent stream leaves this instance as it was.
        var (rcf, likelihood, range, spacing) = CreateParts(_options);
        rcf.ReadState(reader);
        likelihood.ReadState(reader);
        range.ReadState(reader);
        spacing.ReadState(reader);
        var seasonal = CreateSeasonal(_options);
        if (version >= 2 && reader.ReadBoolean())
        {
            // A state with a learned cycle cannot be carried into a detector configured without one.
            if (seasonal is null)
            {
                throw new InvalidDataException($"The {KindName} detector state has a seasonal part but the options turn it off.");
            }

            seasonal.ReadState(reader);
        }

        if (likelihood.Count != rcf.Count || range.Count != rcf.Count || spacing.Count != rcf.Count)
        {
            throw new InvalidDataException(
                $"The {KindName} detector state is inconsistent: forest {rcf.Count}, likelihood {likelihood.Count}, range {range.Count} and spacing {spacing.Count} readings.");
        }

        LastNovel = lastNovel;
        _rcf = rcf;
        _likelihood = likelihood;
        _range = range;
        _spacing = spacing;
        _seasonal = seasonal;
    }

    private static SeasonalResidual? CreateSeasonal(LikelihoodRcfOptions o) => o.Seasonal is { } seasonal ? new SeasonalResidual(seasonal) : null;

    private static (RcfDetector, AnomalyLikelihood, RangeNovelty, DetectionSpacing) CreateParts(LikelihoodRcfOptions o) => (
        new RcfDetector(o.Rcf),
        new AnomalyLikelihood(o.Likelihood),
        new RangeNovelty(o.RangeTolerance, o.RangeWarmup),
        new DetectionSpacing(o.SpacingTrigger, o.SpacingHold, o.SpacingFactor));
}

using AnomalyActors.Detection;

namespace AnomalyActors.Core.State;

/// <summary>
/// The detectors configured for one stream. A reading is out of band when any detector says so;
/// the band shown is the first detector's and the grade the highest.
/// </summary>
public sealed class DetectorSet
{
    private readonly IDetector[] _detectors;

    /// <param name="fingerprint">
    /// Identifies kinds and options; a snapshot whose fingerprint differs was taken under another
    /// configuration, and its detector state is not restored into these detectors.
    /// </param>
    public DetectorSet(IDetector[] detectors, string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(detectors);
        if (detectors.Length == 0)
        {
            throw new ArgumentException("A stream needs at least one detector.", nameof(detectors));
        }

        _detectors = detectors;
        Fingerprint = fingerprint ?? throw new ArgumentNullException(nameof(fingerprint));
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(fingerprint));
        Version = string.Join("+", detectors.Select(d => d.Kind)) + "@" + Convert.ToHexStringLower(hash, 0, 4);
    }

    public string Fingerprint { get; }

    /// <summary>
    /// A short name of this configuration for output records: the detector kinds and a hash of
    /// their options, e.g. <c>ewma+rcf@1f2e3d4c</c>; records scored under other options differ.
    /// </summary>
    public string Version { get; }

    public DetectorScore Update(long timestampMs, double value)
    {
        var combined = _detectors[0].Update(timestampMs, value);
        for (var i = 1; i < _detectors.Length; i++)
        {
            var next = _detectors[i].Update(timestampMs, value);
            if (next.OutOfBand || next.Grade > combined.Grade)
            {
                combined = combined with
                {
                    OutOfBand = combined.OutOfBand || next.OutOfBand,
                    Grade = Math.Max(combined.Grade, next.Grade),
                };
            }
        }

        return combined;
    }

    /// <summary>Gives the prior to every detector that can start from one (the others learn alone).</summary>
    public void WarmStart(DetectorPrior prior)
    {
        foreach (var detector in _detectors)
        {
            if (detector is IWarmStartable warmStartable)
            {
                warmStartable.WarmStart(prior);
            }
        }
    }

    public byte[] CaptureState()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer))
        {
            foreach (var detector in _detectors)
            {
                detector.WriteState(writer);
            }
        }

        return buffer.ToArray();
    }

    public void RestoreState(byte[] state)
    {
        using var reader = new BinaryReader(new MemoryStream(state, writable: false));
        foreach (var detector in _detectors)
        {
            detector.ReadState(reader);
        }
    }
}

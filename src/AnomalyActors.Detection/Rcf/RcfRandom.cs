namespace AnomalyActors.Detection.Rcf;

/// <summary>
/// xoshiro256** seeded through splitmix64. System.Random cannot be saved and restored, and the forest
/// must replay bit for bit after ReadState, so the generator state is four plain words.
/// </summary>
internal struct RcfRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public RcfRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextULong()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    public void Write(BinaryWriter w)
    {
        w.Write(_s0);
        w.Write(_s1);
        w.Write(_s2);
        w.Write(_s3);
    }

    public void Read(BinaryReader r)
    {
        _s0 = r.ReadUInt64();
        _s1 = r.ReadUInt64();
        _s2 = r.ReadUInt64();
        _s3 = r.ReadUInt64();
    }
}

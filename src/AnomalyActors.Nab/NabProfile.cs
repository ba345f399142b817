using System.Text.Json;

namespace AnomalyActors.Nab;

/// <summary>One NAB application profile: the weights of the cost matrix (TN is never used by NAB).</summary>
public sealed record NabProfile(string Name, double TpWeight, double FpWeight, double FnWeight)
{
    public static NabProfile Standard { get; } = new("standard", 1.0, 0.11, 1.0);
    public static NabProfile RewardLowFpRate { get; } = new("reward_low_FP_rate", 1.0, 0.22, 1.0);
    public static NabProfile RewardLowFnRate { get; } = new("reward_low_FN_rate", 1.0, 0.11, 2.0);

    /// <summary>The three profiles in the order NAB reports them.</summary>
    public static IReadOnlyList<NabProfile> All { get; } = [Standard, RewardLowFpRate, RewardLowFnRate];

    /// <summary>Reads NAB's profiles.json so a changed cost matrix is picked up rather than assumed.</summary>
    public static IReadOnlyList<NabProfile> Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var result = new List<NabProfile>();
        foreach (var name in All.Select(p => p.Name))
        {
            var m = doc.RootElement.GetProperty(name).GetProperty("CostMatrix");
            result.Add(new NabProfile(
                name,
                m.GetProperty("tpWeight").GetDouble(),
                m.GetProperty("fpWeight").GetDouble(),
                m.GetProperty("fnWeight").GetDouble()));
        }

        return result;
    }
}

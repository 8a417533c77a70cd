using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>A name for every meter class a flow's action word can carry (the plan's, or "classN").</summary>
    private static string[] MeterClassNames(PlanValidator.ValidPlan v)
    {
        string[] names = new string[PolicyTables.MaxMeterClasses];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = v.MeterClassNames.TryGetValue(i, out string? n) ? n : $"class{i}";
        }

        return names;
    }
}

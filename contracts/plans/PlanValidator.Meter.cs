namespace SnicRuntime.Contracts.Plans;

/// <summary>The metering part of plan validation: meter classes, each id once, within the classes a flow's action word can carry.</summary>
public static partial class PlanValidator
{
    public sealed partial class ValidPlan
    {
        public void MeterClasses(List<MeterClassSpec>? classes)
        {
            for (int i = 0; i < (classes?.Count ?? 0); i++)
            {
                string path = $"$.meter_classes[{i}]";
                MeterClassSpec m = classes![i];
                if (m.Id is not long id || id < 0 || id >= PlanLimits.MaxMeterClasses)
                {
                    Error(path + ".id", $"meter class id must be 0..{PlanLimits.MaxMeterClasses - 1}");
                    continue;
                }

                if (!_meterClasses.TryAdd(id, m.Name ?? $"class{id}"))
                {
                    Error(path + ".id", $"meter class {id} is defined twice");
                }
            }
        }
    }
}

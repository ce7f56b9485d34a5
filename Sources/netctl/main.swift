print("netctl")

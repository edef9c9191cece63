/* The model table and the button sequences (see models.h for the design).
 *
 * Rows: product type, board, CPID, BDID, marketing name, year, family, buttons, power
 * button. The sequences follow Apple's support articles ("Force restart iPhone", "If you
 * can't update or restore your iPhone", and Apple Configurator's "Revive or restore" for
 * DFU); the DFU hold times are the ones those steps give (8 s for both buttons on the older
 * layouts; 5 s for side + volume down on the modern one). */
#include "models.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IPHONE RV_FAMILY_IPHONE
#define IPAD RV_FAMILY_IPAD
#define IPOD RV_FAMILY_IPOD
#define HOME RV_BUTTONS_HOME
#define VOLDOWN RV_BUTTONS_VOLDOWN
#define MODERN RV_BUTTONS_MODERN
#define TOP RV_POWER_TOP
#define SIDE RV_POWER_SIDE

static const rv_model models[] = {
    { "iPhone1,1", "M68AP", 0x8900, 0x00, "iPhone", 2007, IPHONE, HOME, TOP },
    { "iPhone1,2", "N82AP", 0x8900, 0x04, "iPhone 3G", 2008, IPHONE, HOME, TOP },
    { "iPhone2,1", "N88AP", 0x8920, 0x00, "iPhone 3GS", 2009, IPHONE, HOME, TOP },
    { "iPhone3,1", "N90AP", 0x8930, 0x00, "iPhone 4 (GSM)", 2010, IPHONE, HOME, TOP },
    { "iPhone3,2", "N90BAP", 0x8930, 0x04, "iPhone 4 (GSM, 2012)", 2012, IPHONE, HOME, TOP },
    { "iPhone3,3", "N92AP", 0x8930, 0x06, "iPhone 4 (CDMA)", 2011, IPHONE, HOME, TOP },
    { "iPhone4,1", "N94AP", 0x8940, 0x08, "iPhone 4s", 2011, IPHONE, HOME, TOP },
    { "iPhone5,1", "N41AP", 0x8950, 0x00, "iPhone 5 (GSM)", 2012, IPHONE, HOME, TOP },
    { "iPhone5,2", "N42AP", 0x8950, 0x02, "iPhone 5 (Global)", 2012, IPHONE, HOME, TOP },
    { "iPhone5,3", "N48AP", 0x8950, 0x0A, "iPhone 5c (GSM)", 2013, IPHONE, HOME, TOP },
    { "iPhone5,4", "N49AP", 0x8950, 0x0E, "iPhone 5c (Global)", 2013, IPHONE, HOME, TOP },
    { "iPhone6,1", "N51AP", 0x8960, 0x00, "iPhone 5s (GSM)", 2013, IPHONE, HOME, TOP },
    { "iPhone6,2", "N53AP", 0x8960, 0x02, "iPhone 5s (Global)", 2013, IPHONE, HOME, TOP },
    { "iPhone7,1", "N56AP", 0x7000, 0x04, "iPhone 6 Plus", 2014, IPHONE, HOME, SIDE },
    { "iPhone7,2", "N61AP", 0x7000, 0x06, "iPhone 6", 2014, IPHONE, HOME, SIDE },
    { "iPhone8,1", "N71AP", 0x8000, 0x04, "iPhone 6s", 2015, IPHONE, HOME, SIDE },
    { "iPhone8,1", "N71MAP", 0x8003, 0x04, "iPhone 6s", 2015, IPHONE, HOME, SIDE },
    { "iPhone8,2", "N66AP", 0x8000, 0x06, "iPhone 6s Plus", 2015, IPHONE, HOME, SIDE },
    { "iPhone8,2", "N66MAP", 0x8003, 0x06, "iPhone 6s Plus", 2015, IPHONE, HOME, SIDE },
    { "iPhone8,4", "N69AP", 0x8003, 0x02, "iPhone SE (1st gen)", 2016, IPHONE, HOME, TOP },
    { "iPhone8,4", "N69UAP", 0x8000, 0x02, "iPhone SE (1st gen)", 2016, IPHONE, HOME, TOP },
    { "iPhone9,1", "D10AP", 0x8010, 0x08, "iPhone 7 (Global)", 2016, IPHONE, VOLDOWN, SIDE },
    { "iPhone9,2", "D11AP", 0x8010, 0x0A, "iPhone 7 Plus (Global)", 2016, IPHONE, VOLDOWN, SIDE },
    { "iPhone9,3", "D101AP", 0x8010, 0x0C, "iPhone 7 (GSM)", 2016, IPHONE, VOLDOWN, SIDE },
    { "iPhone9,4", "D111AP", 0x8010, 0x0E, "iPhone 7 Plus (GSM)", 2016, IPHONE, VOLDOWN, SIDE },
    { "iPhone10,1", "D20AP", 0x8015, 0x02, "iPhone 8 (Global)", 2017, IPHONE, MODERN, SIDE },
    { "iPhone10,2", "D21AP", 0x8015, 0x04, "iPhone 8 Plus (Global)", 2017, IPHONE, MODERN, SIDE },
    { "iPhone10,3", "D22AP", 0x8015, 0x06, "iPhone X (Global)", 2017, IPHONE, MODERN, SIDE },
    { "iPhone10,4", "D201AP", 0x8015, 0x0A, "iPhone 8 (GSM)", 2017, IPHONE, MODERN, SIDE },
    { "iPhone10,5", "D211AP", 0x8015, 0x0C, "iPhone 8 Plus (GSM)", 2017, IPHONE, MODERN, SIDE },
    { "iPhone10,6", "D221AP", 0x8015, 0x0E, "iPhone X (GSM)", 2017, IPHONE, MODERN, SIDE },
    { "iPhone11,2", "D321AP", 0x8020, 0x0E, "iPhone XS", 2018, IPHONE, MODERN, SIDE },
    { "iPhone11,4", "D331AP", 0x8020, 0x0A, "iPhone XS Max (China)", 2018, IPHONE, MODERN, SIDE },
    { "iPhone11,6", "D331PAP", 0x8020, 0x1A, "iPhone XS Max", 2018, IPHONE, MODERN, SIDE },
    { "iPhone11,8", "N841AP", 0x8020, 0x0C, "iPhone XR", 2018, IPHONE, MODERN, SIDE },
    { "iPhone12,1", "N104AP", 0x8030, 0x04, "iPhone 11", 2019, IPHONE, MODERN, SIDE },
    { "iPhone12,3", "D421AP", 0x8030, 0x06, "iPhone 11 Pro", 2019, IPHONE, MODERN, SIDE },
    { "iPhone12,5", "D431AP", 0x8030, 0x02, "iPhone 11 Pro Max", 2019, IPHONE, MODERN, SIDE },
    { "iPhone12,8", "D79AP", 0x8030, 0x10, "iPhone SE (2nd gen)", 2020, IPHONE, MODERN, SIDE },
    { "iPhone13,1", "D52GAP", 0x8101, 0x0A, "iPhone 12 mini", 2020, IPHONE, MODERN, SIDE },
    { "iPhone13,2", "D53GAP", 0x8101, 0x0C, "iPhone 12", 2020, IPHONE, MODERN, SIDE },
    { "iPhone13,3", "D53PAP", 0x8101, 0x0E, "iPhone 12 Pro", 2020, IPHONE, MODERN, SIDE },
    { "iPhone13,4", "D54PAP", 0x8101, 0x08, "iPhone 12 Pro Max", 2020, IPHONE, MODERN, SIDE },
    { "iPhone14,2", "D63AP", 0x8110, 0x0C, "iPhone 13 Pro", 2021, IPHONE, MODERN, SIDE },
    { "iPhone14,3", "D64AP", 0x8110, 0x0E, "iPhone 13 Pro Max", 2021, IPHONE, MODERN, SIDE },
    { "iPhone14,4", "D16AP", 0x8110, 0x08, "iPhone 13 mini", 2021, IPHONE, MODERN, SIDE },
    { "iPhone14,5", "D17AP", 0x8110, 0x0A, "iPhone 13", 2021, IPHONE, MODERN, SIDE },
    { "iPhone14,6", "D49AP", 0x8110, 0x10, "iPhone SE (3rd gen)", 2022, IPHONE, MODERN, SIDE },
    { "iPhone14,7", "D27AP", 0x8110, 0x18, "iPhone 14", 2022, IPHONE, MODERN, SIDE },
    { "iPhone14,8", "D28AP", 0x8110, 0x1A, "iPhone 14 Plus", 2022, IPHONE, MODERN, SIDE },
    { "iPhone15,2", "D73AP", 0x8120, 0x0C, "iPhone 14 Pro", 2022, IPHONE, MODERN, SIDE },
    { "iPhone15,3", "D74AP", 0x8120, 0x0E, "iPhone 14 Pro Max", 2022, IPHONE, MODERN, SIDE },
    { "iPhone15,4", "D37AP", 0x8120, 0x08, "iPhone 15", 2023, IPHONE, MODERN, SIDE },
    { "iPhone15,5", "D38AP", 0x8120, 0x0A, "iPhone 15 Plus", 2023, IPHONE, MODERN, SIDE },
    { "iPhone16,1", "D83AP", 0x8130, 0x04, "iPhone 15 Pro", 2023, IPHONE, MODERN, SIDE },
    { "iPhone16,2", "D84AP", 0x8130, 0x06, "iPhone 15 Pro Max", 2023, IPHONE, MODERN, SIDE },
    { "iPhone17,1", "D93AP", 0x8140, 0x0C, "iPhone 16 Pro", 2024, IPHONE, MODERN, SIDE },
    { "iPhone17,2", "D94AP", 0x8140, 0x0E, "iPhone 16 Pro Max", 2024, IPHONE, MODERN, SIDE },
    { "iPhone17,3", "D47AP", 0x8140, 0x08, "iPhone 16", 2024, IPHONE, MODERN, SIDE },
    { "iPhone17,4", "D48AP", 0x8140, 0x0A, "iPhone 16 Plus", 2024, IPHONE, MODERN, SIDE },
    { "iPhone17,5", "V59AP", 0x8140, 0x04, "iPhone 16e", 2025, IPHONE, MODERN, SIDE },
    { "iPhone18,1", "V53AP", 0x8150, 0x0C, "iPhone 17 Pro", 2025, IPHONE, MODERN, SIDE },
    { "iPhone18,2", "V54AP", 0x8150, 0x0E, "iPhone 17 Pro Max", 2025, IPHONE, MODERN, SIDE },
    { "iPhone18,3", "V57AP", 0x8150, 0x08, "iPhone 17", 2025, IPHONE, MODERN, SIDE },
    { "iPhone18,4", "D23AP", 0x8150, 0x0A, "iPhone Air", 2025, IPHONE, MODERN, SIDE },
    { "iPhone18,5", "V159AP", 0x8150, 0x16, "iPhone 17e", 2026, IPHONE, MODERN, SIDE },
    { "iPod1,1", "N45AP", 0x8900, 0x02, "iPod Touch (1st gen)", 2007, IPOD, HOME, TOP },
    { "iPod2,1", "N72AP", 0x8720, 0x00, "iPod Touch (2nd gen)", 2008, IPOD, HOME, TOP },
    { "iPod3,1", "N18AP", 0x8922, 0x02, "iPod Touch (3rd gen)", 2009, IPOD, HOME, TOP },
    { "iPod4,1", "N81AP", 0x8930, 0x08, "iPod Touch (4th gen)", 2010, IPOD, HOME, TOP },
    { "iPod5,1", "N78AP", 0x8942, 0x00, "iPod Touch (5th gen)", 2012, IPOD, HOME, TOP },
    { "iPod7,1", "N102AP", 0x7000, 0x10, "iPod Touch (6th gen)", 2015, IPOD, HOME, TOP },
    { "iPod9,1", "N112AP", 0x8010, 0x16, "iPod Touch (7th gen)", 2019, IPOD, VOLDOWN, TOP },
    { "iPad1,1", "K48AP", 0x8930, 0x02, "iPad", 2010, IPAD, HOME, TOP },
    { "iPad2,1", "K93AP", 0x8940, 0x04, "iPad 2 (WiFi)", 2011, IPAD, HOME, TOP },
    { "iPad2,2", "K94AP", 0x8940, 0x06, "iPad 2 (GSM)", 2011, IPAD, HOME, TOP },
    { "iPad2,3", "K95AP", 0x8940, 0x02, "iPad 2 (CDMA)", 2011, IPAD, HOME, TOP },
    { "iPad2,4", "K93AAP", 0x8942, 0x06, "iPad 2 (WiFi, 2012)", 2012, IPAD, HOME, TOP },
    { "iPad2,5", "P105AP", 0x8942, 0x0A, "iPad mini (WiFi)", 2012, IPAD, HOME, TOP },
    { "iPad2,6", "P106AP", 0x8942, 0x0C, "iPad mini (GSM)", 2012, IPAD, HOME, TOP },
    { "iPad2,7", "P107AP", 0x8942, 0x0E, "iPad mini (Global)", 2012, IPAD, HOME, TOP },
    { "iPad3,1", "J1AP", 0x8945, 0x00, "iPad (3rd gen, WiFi)", 2012, IPAD, HOME, TOP },
    { "iPad3,2", "J2AP", 0x8945, 0x02, "iPad (3rd gen, CDMA)", 2012, IPAD, HOME, TOP },
    { "iPad3,3", "J2AAP", 0x8945, 0x04, "iPad (3rd gen, GSM)", 2012, IPAD, HOME, TOP },
    { "iPad3,4", "P101AP", 0x8955, 0x00, "iPad (4th gen, WiFi)", 2012, IPAD, HOME, TOP },
    { "iPad3,5", "P102AP", 0x8955, 0x02, "iPad (4th gen, GSM)", 2012, IPAD, HOME, TOP },
    { "iPad3,6", "P103AP", 0x8955, 0x04, "iPad (4th gen, Global)", 2012, IPAD, HOME, TOP },
    { "iPad4,1", "J71AP", 0x8960, 0x10, "iPad Air (WiFi)", 2013, IPAD, HOME, TOP },
    { "iPad4,2", "J72AP", 0x8960, 0x12, "iPad Air (Cellular)", 2013, IPAD, HOME, TOP },
    { "iPad4,3", "J73AP", 0x8960, 0x14, "iPad Air (China)", 2013, IPAD, HOME, TOP },
    { "iPad4,4", "J85AP", 0x8960, 0x0A, "iPad mini 2 (WiFi)", 2013, IPAD, HOME, TOP },
    { "iPad4,5", "J86AP", 0x8960, 0x0C, "iPad mini 2 (Cellular)", 2013, IPAD, HOME, TOP },
    { "iPad4,6", "J87AP", 0x8960, 0x0E, "iPad mini 2 (China)", 2013, IPAD, HOME, TOP },
    { "iPad4,7", "J85MAP", 0x8960, 0x32, "iPad mini 3 (WiFi)", 2014, IPAD, HOME, TOP },
    { "iPad4,8", "J86MAP", 0x8960, 0x34, "iPad mini 3 (Cellular)", 2014, IPAD, HOME, TOP },
    { "iPad4,9", "J87MAP", 0x8960, 0x36, "iPad mini 3 (China)", 2014, IPAD, HOME, TOP },
    { "iPad5,1", "J96AP", 0x7000, 0x08, "iPad mini 4 (WiFi)", 2015, IPAD, HOME, TOP },
    { "iPad5,2", "J97AP", 0x7000, 0x0A, "iPad mini 4 (Cellular)", 2015, IPAD, HOME, TOP },
    { "iPad5,3", "J81AP", 0x7001, 0x06, "iPad Air 2 (WiFi)", 2014, IPAD, HOME, TOP },
    { "iPad5,4", "J82AP", 0x7001, 0x02, "iPad Air 2 (Cellular)", 2014, IPAD, HOME, TOP },
    { "iPad6,3", "J127AP", 0x8001, 0x08, "iPad Pro 9.7-inch (WiFi)", 2016, IPAD, HOME, TOP },
    { "iPad6,4", "J128AP", 0x8001, 0x0A, "iPad Pro 9.7-inch (Cellular)", 2016, IPAD, HOME, TOP },
    { "iPad6,7", "J98AAP", 0x8001, 0x10, "iPad Pro 12.9-inch (1st gen, WiFi)", 2015, IPAD, HOME, TOP },
    { "iPad6,8", "J99AAP", 0x8001, 0x12, "iPad Pro 12.9-inch (1st gen, Cellular)", 2015, IPAD, HOME, TOP },
    { "iPad6,11", "J71SAP", 0x8000, 0x10, "iPad (5th gen, WiFi)", 2017, IPAD, HOME, TOP },
    { "iPad6,11", "J71TAP", 0x8003, 0x10, "iPad (5th gen, WiFi)", 2017, IPAD, HOME, TOP },
    { "iPad6,12", "J72SAP", 0x8000, 0x12, "iPad (5th gen, Cellular)", 2017, IPAD, HOME, TOP },
    { "iPad6,12", "J72TAP", 0x8003, 0x12, "iPad (5th gen, Cellular)", 2017, IPAD, HOME, TOP },
    { "iPad7,1", "J120AP", 0x8011, 0x0C, "iPad Pro 12.9-inch (2nd gen, WiFi)", 2017, IPAD, HOME, TOP },
    { "iPad7,2", "J121AP", 0x8011, 0x0E, "iPad Pro 12.9-inch (2nd gen, Cellular)", 2017, IPAD, HOME, TOP },
    { "iPad7,3", "J207AP", 0x8011, 0x04, "iPad Pro 10.5-inch (WiFi)", 2017, IPAD, HOME, TOP },
    { "iPad7,4", "J208AP", 0x8011, 0x06, "iPad Pro 10.5-inch (Cellular)", 2017, IPAD, HOME, TOP },
    { "iPad7,5", "J71BAP", 0x8010, 0x18, "iPad (6th gen, WiFi)", 2018, IPAD, HOME, TOP },
    { "iPad7,6", "J72BAP", 0x8010, 0x1A, "iPad (6th gen, Cellular)", 2018, IPAD, HOME, TOP },
    { "iPad7,11", "J171AP", 0x8010, 0x1C, "iPad (7th gen, WiFi)", 2019, IPAD, HOME, TOP },
    { "iPad7,12", "J172AP", 0x8010, 0x1E, "iPad (7th gen, Cellular)", 2019, IPAD, HOME, TOP },
    { "iPad8,1", "J317AP", 0x8027, 0x0C, "iPad Pro 11-inch (1st gen, WiFi)", 2018, IPAD, MODERN, TOP },
    { "iPad8,2", "J317XAP", 0x8027, 0x1C, "iPad Pro 11-inch (1st gen, WiFi, 1TB)", 2018, IPAD, MODERN, TOP },
    { "iPad8,3", "J318AP", 0x8027, 0x0E, "iPad Pro 11-inch (1st gen, Cellular)", 2018, IPAD, MODERN, TOP },
    { "iPad8,4", "J318XAP", 0x8027, 0x1E, "iPad Pro 11-inch (1st gen, Cellular, 1TB)", 2018, IPAD, MODERN, TOP },
    { "iPad8,5", "J320AP", 0x8027, 0x08, "iPad Pro 12.9-inch (3rd gen, WiFi)", 2018, IPAD, MODERN, TOP },
    { "iPad8,6", "J320XAP", 0x8027, 0x18, "iPad Pro 12.9-inch (3rd gen, WiFi, 1TB)", 2018, IPAD, MODERN, TOP },
    { "iPad8,7", "J321AP", 0x8027, 0x0A, "iPad Pro 12.9-inch (3rd gen, Cellular)", 2018, IPAD, MODERN, TOP },
    { "iPad8,8", "J321XAP", 0x8027, 0x1A, "iPad Pro 12.9-inch (3rd gen, Cellular, 1TB)", 2018, IPAD, MODERN, TOP },
    { "iPad8,9", "J417AP", 0x8027, 0x3C, "iPad Pro 11-inch (2nd gen, WiFi)", 2020, IPAD, MODERN, TOP },
    { "iPad8,10", "J418AP", 0x8027, 0x3E, "iPad Pro 11-inch (2nd gen, Cellular)", 2020, IPAD, MODERN, TOP },
    { "iPad8,11", "J420AP", 0x8027, 0x38, "iPad Pro 12.9-inch (4th gen, WiFi)", 2020, IPAD, MODERN, TOP },
    { "iPad8,12", "J421AP", 0x8027, 0x3A, "iPad Pro 12.9-inch (4th gen, Cellular)", 2020, IPAD, MODERN, TOP },
    { "iPad11,1", "J210AP", 0x8020, 0x14, "iPad mini (5th gen, WiFi)", 2019, IPAD, HOME, TOP },
    { "iPad11,2", "J211AP", 0x8020, 0x16, "iPad mini (5th gen, Cellular)", 2019, IPAD, HOME, TOP },
    { "iPad11,3", "J217AP", 0x8020, 0x1C, "iPad Air (3rd gen, WiFi)", 2019, IPAD, HOME, TOP },
    { "iPad11,4", "J218AP", 0x8020, 0x1E, "iPad Air (3rd gen, Cellular)", 2019, IPAD, HOME, TOP },
    { "iPad11,6", "J171AAP", 0x8020, 0x24, "iPad (8th gen, WiFi)", 2020, IPAD, HOME, TOP },
    { "iPad11,7", "J172AAP", 0x8020, 0x26, "iPad (8th gen, Cellular)", 2020, IPAD, HOME, TOP },
    { "iPad12,1", "J181AP", 0x8030, 0x18, "iPad (9th gen, WiFi)", 2021, IPAD, HOME, TOP },
    { "iPad12,2", "J182AP", 0x8030, 0x1A, "iPad (9th gen, Cellular)", 2021, IPAD, HOME, TOP },
    { "iPad13,1", "J307AP", 0x8101, 0x04, "iPad Air (4th gen, WiFi)", 2020, IPAD, MODERN, TOP },
    { "iPad13,2", "J308AP", 0x8101, 0x06, "iPad Air (4th gen, Cellular)", 2020, IPAD, MODERN, TOP },
    { "iPad13,4", "J517AP", 0x8103, 0x08, "iPad Pro 11-inch (3rd gen, WiFi)", 2021, IPAD, MODERN, TOP },
    { "iPad13,5", "J517XAP", 0x8103, 0x0A, "iPad Pro 11-inch (3rd gen, WiFi, 2TB)", 2021, IPAD, MODERN, TOP },
    { "iPad13,6", "J518AP", 0x8103, 0x0C, "iPad Pro 11-inch (3rd gen, Cellular)", 2021, IPAD, MODERN, TOP },
    { "iPad13,7", "J518XAP", 0x8103, 0x0E, "iPad Pro 11-inch (3rd gen, Cellular, 2TB)", 2021, IPAD, MODERN, TOP },
    { "iPad13,8", "J522AP", 0x8103, 0x18, "iPad Pro 12.9-inch (5th gen, WiFi)", 2021, IPAD, MODERN, TOP },
    { "iPad13,9", "J522XAP", 0x8103, 0x1A, "iPad Pro 12.9-inch (5th gen, WiFi, 2TB)", 2021, IPAD, MODERN, TOP },
    { "iPad13,10", "J523AP", 0x8103, 0x1C, "iPad Pro 12.9-inch (5th gen, Cellular)", 2021, IPAD, MODERN, TOP },
    { "iPad13,11", "J523XAP", 0x8103, 0x1E, "iPad Pro 12.9-inch (5th gen, Cellular, 2TB)", 2021, IPAD, MODERN, TOP },
    { "iPad13,16", "J407AP", 0x8103, 0x10, "iPad Air (5th gen, WiFi)", 2022, IPAD, MODERN, TOP },
    { "iPad13,17", "J408AP", 0x8103, 0x12, "iPad Air (5th gen, Cellular)", 2022, IPAD, MODERN, TOP },
    { "iPad13,18", "J271AP", 0x8101, 0x14, "iPad (10th gen, WiFi)", 2022, IPAD, MODERN, TOP },
    { "iPad13,19", "J272AP", 0x8101, 0x16, "iPad (10th gen, Cellular)", 2022, IPAD, MODERN, TOP },
    { "iPad14,1", "J310AP", 0x8110, 0x04, "iPad mini (6th gen, WiFi)", 2021, IPAD, MODERN, TOP },
    { "iPad14,2", "J311AP", 0x8110, 0x06, "iPad mini (6th gen, Cellular)", 2021, IPAD, MODERN, TOP },
    { "iPad14,3", "J617AP", 0x8112, 0x08, "iPad Pro 11-inch (4th gen, WiFi)", 2022, IPAD, MODERN, TOP },
    { "iPad14,4", "J618AP", 0x8112, 0x0A, "iPad Pro 11-inch (4th gen, Cellular)", 2022, IPAD, MODERN, TOP },
    { "iPad14,5", "J620AP", 0x8112, 0x0C, "iPad Pro 12.9-inch (6th gen, WiFi)", 2022, IPAD, MODERN, TOP },
    { "iPad14,6", "J621AP", 0x8112, 0x0E, "iPad Pro 12.9-inch (6th gen, Cellular)", 2022, IPAD, MODERN, TOP },
    { "iPad14,8", "J507AP", 0x8112, 0x10, "iPad Air 11-inch (M2, WiFi)", 2024, IPAD, MODERN, TOP },
    { "iPad14,9", "J508AP", 0x8112, 0x12, "iPad Air 11-inch (M2, Cellular)", 2024, IPAD, MODERN, TOP },
    { "iPad14,10", "J537AP", 0x8112, 0x14, "iPad Air 13-inch (M2, WiFi)", 2024, IPAD, MODERN, TOP },
    { "iPad14,11", "J538AP", 0x8112, 0x16, "iPad Air 13-inch (M2, Cellular)", 2024, IPAD, MODERN, TOP },
    { "iPad15,3", "J607AP", 0x8122, 0x08, "iPad Air 11-inch (M3, WiFi)", 2025, IPAD, MODERN, TOP },
    { "iPad15,4", "J608AP", 0x8122, 0x0A, "iPad Air 11-inch (M3, Cellular)", 2025, IPAD, MODERN, TOP },
    { "iPad15,5", "J637AP", 0x8122, 0x0C, "iPad Air 13-inch (M3, WiFi)", 2025, IPAD, MODERN, TOP },
    { "iPad15,6", "J638AP", 0x8122, 0x0E, "iPad Air 13-inch (M3, Cellular)", 2025, IPAD, MODERN, TOP },
    { "iPad15,7", "J481AP", 0x8120, 0x10, "iPad (A16, WiFi)", 2025, IPAD, MODERN, TOP },
    { "iPad15,8", "J482AP", 0x8120, 0x12, "iPad (A16, Cellular)", 2025, IPAD, MODERN, TOP },
    { "iPad16,1", "J410AP", 0x8130, 0x08, "iPad mini (A17 Pro, WiFi)", 2024, IPAD, MODERN, TOP },
    { "iPad16,2", "J411AP", 0x8130, 0x0A, "iPad mini (A17 Pro, Cellular)", 2024, IPAD, MODERN, TOP },
    { "iPad16,3", "J717AP", 0x8132, 0x08, "iPad Pro 11-inch (M4, WiFi)", 2024, IPAD, MODERN, TOP },
    { "iPad16,4", "J718AP", 0x8132, 0x0A, "iPad Pro 11-inch (M4, Cellular)", 2024, IPAD, MODERN, TOP },
    { "iPad16,5", "J720AP", 0x8132, 0x0C, "iPad Pro 13-inch (M4, WiFi)", 2024, IPAD, MODERN, TOP },
    { "iPad16,6", "J721AP", 0x8132, 0x0E, "iPad Pro 13-inch (M4, Cellular)", 2024, IPAD, MODERN, TOP },
    { "iPad16,8", "J707AP", 0x8132, 0x10, "iPad Air 11-inch (M4, Wi-Fi)", 2026, IPAD, MODERN, TOP },
    { "iPad16,9", "J708AP", 0x8132, 0x12, "iPad Air 11-inch (M4, Cellular)", 2026, IPAD, MODERN, TOP },
    { "iPad16,10", "J737AP", 0x8132, 0x14, "iPad Air 13-inch (M4, Wi-Fi)", 2026, IPAD, MODERN, TOP },
    { "iPad16,11", "J738AP", 0x8132, 0x16, "iPad Air 13-inch (M4, Cellular)", 2026, IPAD, MODERN, TOP },
    { "iPad17,1", "J817AP", 0x8142, 0x08, "iPad Pro 11-inch (M5, WiFi)", 2025, IPAD, MODERN, TOP },
    { "iPad17,2", "J818AP", 0x8142, 0x0A, "iPad Pro 11-inch (M5, Cellular)", 2025, IPAD, MODERN, TOP },
    { "iPad17,3", "J820AP", 0x8142, 0x0C, "iPad Pro 13-inch (M5, WiFi)", 2025, IPAD, MODERN, TOP },
    { "iPad17,4", "J821AP", 0x8142, 0x0E, "iPad Pro 13-inch (M5, Cellular)", 2025, IPAD, MODERN, TOP },
};

#undef IPHONE
#undef IPAD
#undef IPOD
#undef HOME
#undef VOLDOWN
#undef MODERN
#undef TOP
#undef SIDE

size_t rv_model_count(void)
{
    return sizeof models / sizeof models[0];
}

const rv_model *rv_model_at(size_t i)
{
    return i < rv_model_count() ? &models[i] : NULL;
}

const rv_model *rv_model_by_product_type(const char *product_type)
{
    if (!product_type || !*product_type)
        return NULL;
    for (size_t i = 0; i < rv_model_count(); i++)
        if (strcasecmp(models[i].product_type, product_type) == 0)
            return &models[i];
    return NULL;
}

const rv_model *rv_model_by_chip(uint32_t cpid, uint32_t bdid)
{
    if (!cpid)
        return NULL;
    for (size_t i = 0; i < rv_model_count(); i++)
        if (models[i].cpid == cpid && models[i].bdid == bdid)
            return &models[i];
    return NULL;
}

/* "N104AP" matches "n104ap" and "N104". */
static bool board_matches(const char *row, const char *want)
{
    size_t n = strlen(want);
    if (strcasecmp(row, want) == 0)
        return true;
    size_t r = strlen(row);
    return r == n + 2 && strncasecmp(row, want, n) == 0 && strcasecmp(row + n, "AP") == 0;
}

const rv_model *rv_model_by_board(const char *board)
{
    if (!board || !*board)
        return NULL;
    for (size_t i = 0; i < rv_model_count(); i++)
        if (board_matches(models[i].board, board))
            return &models[i];
    return NULL;
}

const rv_model *rv_model_for_device(const revive_device_id *id)
{
    if (!id)
        return NULL;
    const rv_model *m = NULL;
    if (id->hardware_model[0])
        m = rv_model_by_board(id->hardware_model);
    if (!m && id->cpid)
        m = rv_model_by_chip(id->cpid, id->bdid);
    if (!m && id->product_type[0])
        m = rv_model_by_product_type(id->product_type);
    return m;
}

const char *rv_family_name(rv_family f)
{
    switch (f) {
    case RV_FAMILY_IPHONE: return "iPhone";
    case RV_FAMILY_IPAD: return "iPad";
    case RV_FAMILY_IPOD: return "iPod touch";
    }
    return "device";
}

const char *rv_buttons_name(rv_buttons b)
{
    switch (b) {
    case RV_BUTTONS_HOME: return "home";
    case RV_BUTTONS_VOLDOWN: return "voldown";
    case RV_BUTTONS_MODERN: return "modern";
    }
    return "unknown";
}

const char *rv_procedure_name(rv_procedure p)
{
    switch (p) {
    case RV_PROC_FORCE_RESTART: return "force restart";
    case RV_PROC_RECOVERY: return "recovery mode";
    case RV_PROC_DFU: return "DFU mode";
    }
    return "unknown";
}

/* The names a person reads on this model. On iPads without a Home button the volume
 * buttons are named by where they sit relative to the top button, because on some models
 * (iPad mini 6th gen and later) they are on the top edge, not the side. */
typedef struct names {
    const char *power; /* "side button" / "top button" */
    const char *up, *down;
} names;

static names names_for(const rv_model *m)
{
    names n;
    n.power = m->power == RV_POWER_SIDE ? "side button" : "top button";
    if (m->family == RV_FAMILY_IPAD && m->buttons == RV_BUTTONS_MODERN) {
        n.up = "volume button nearest the top button";
        n.down = "volume button farthest from the top button";
    } else {
        n.up = "volume up button";
        n.down = "volume down button";
    }
    return n;
}

/* Append one step; text is a format with up to three %s (filled by the caller). */
static void add(rv_step *out, size_t *n, rv_step_kind kind, unsigned seconds, const char *buttons,
                const char *text)
{
    if (*n >= RV_MODEL_MAX_STEPS)
        return;
    rv_step *s = &out[(*n)++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->seconds = seconds;
    snprintf(s->buttons, sizeof s->buttons, "%s", buttons ? buttons : "");
    snprintf(s->text, sizeof s->text, "%s", text);
}

/* The two buttons held together on the older layouts: "Home" or "volume down" + power. */
static void pair_names(const rv_model *m, const names *nm, char *pair, size_t cap, const char **held)
{
    *held = m->buttons == RV_BUTTONS_HOME ? "Home button" : nm->down;
    snprintf(pair, cap, "%s + %s", nm->power, *held);
}

size_t rv_model_steps(const rv_model *m, rv_procedure proc, rv_step out[RV_MODEL_MAX_STEPS])
{
    if (!m || !out)
        return 0;
    names nm = names_for(m);
    const char *fam = rv_family_name(m->family);
    size_t n = 0;
    char t[256], pair[96];
    const char *held;
    if (proc == RV_PROC_RECOVERY || proc == RV_PROC_DFU) {
        snprintf(t, sizeof t, "Connect the %s to this computer with a USB cable (a port on the computer, not a hub).", fam);
        add(out, &n, RV_STEP_PREPARE, 0, NULL, t);
    } else if (proc != RV_PROC_FORCE_RESTART) {
        return 0;
    }
    if (m->buttons == RV_BUTTONS_MODERN) {
        snprintf(t, sizeof t, "Press and quickly release the %s.", nm.up);
        add(out, &n, RV_STEP_PRESS, 0, nm.up, t);
        snprintf(t, sizeof t, "Press and quickly release the %s.", nm.down);
        add(out, &n, RV_STEP_PRESS, 0, nm.down, t);
        switch (proc) {
        case RV_PROC_FORCE_RESTART:
            snprintf(t, sizeof t, "Press and hold the %s until the Apple logo appears (about 10 seconds), then release it.", nm.power);
            add(out, &n, RV_STEP_HOLD_UNTIL, 10, nm.power, t);
            break;
        case RV_PROC_RECOVERY:
            snprintf(t, sizeof t, "Press and hold the %s; keep holding it past the Apple logo until the recovery-mode screen (a computer and a cable) appears (about 15 seconds).", nm.power);
            add(out, &n, RV_STEP_HOLD_UNTIL, 15, nm.power, t);
            break;
        case RV_PROC_DFU:
            snprintf(t, sizeof t, "Press and hold the %s until the screen goes black (about 10 seconds); keep holding it.", nm.power);
            add(out, &n, RV_STEP_HOLD_UNTIL, 10, nm.power, t);
            snprintf(pair, sizeof pair, "%s + %s", nm.power, nm.down);
            snprintf(t, sizeof t, "While still holding the %s, also press and hold the %s, both for 5 seconds.", nm.power, nm.down);
            add(out, &n, RV_STEP_HOLD, 5, pair, t);
            snprintf(t, sizeof t, "Release the %s but keep holding the %s until revive sees the %s in DFU mode (about 10 seconds). The screen stays black.", nm.power, nm.down, fam);
            add(out, &n, RV_STEP_HOLD_UNTIL, 10, nm.down, t);
            break;
        }
        return n;
    }
    pair_names(m, &nm, pair, sizeof pair, &held);
    switch (proc) {
    case RV_PROC_FORCE_RESTART:
        snprintf(t, sizeof t, "Press and hold both the %s and the %s until the Apple logo appears (about 10 seconds), then release both.", nm.power, held);
        add(out, &n, RV_STEP_HOLD_UNTIL, 10, pair, t);
        break;
    case RV_PROC_RECOVERY:
        snprintf(t, sizeof t, "Press and hold both the %s and the %s; keep holding them past the Apple logo until the recovery-mode screen (a computer and a cable) appears (about 15 seconds).", nm.power, held);
        add(out, &n, RV_STEP_HOLD_UNTIL, 15, pair, t);
        break;
    case RV_PROC_DFU:
        snprintf(t, sizeof t, "Press and hold both the %s and the %s for 8 seconds.", nm.power, held);
        add(out, &n, RV_STEP_HOLD, 8, pair, t);
        snprintf(t, sizeof t, "Release the %s but keep holding the %s until revive sees the %s in DFU mode (about 5 seconds). The screen stays black.", nm.power, held, fam);
        add(out, &n, RV_STEP_HOLD_UNTIL, 5, held, t);
        break;
    }
    return n;
}

const char *rv_model_expect(const rv_model *m, rv_procedure proc)
{
    (void)m;
    switch (proc) {
    case RV_PROC_FORCE_RESTART:
        return "The Apple logo appears and the device starts up. If nothing happens, charge it for an hour and try again.";
    case RV_PROC_RECOVERY:
        return "The screen shows a computer and a cable (recovery mode). If the device starts up normally instead, "
               "you let go too early: start again.";
    case RV_PROC_DFU:
        return "The screen stays black and revive reports the device in DFU mode. If the Apple logo or the "
               "recovery screen appears, the timing was off: force restart and start again.";
    }
    return "";
}

size_t rv_model_instructions(const rv_model *m, rv_procedure proc, char *buf, size_t cap)
{
    rv_step steps[RV_MODEL_MAX_STEPS];
    size_t ns = rv_model_steps(m, proc, steps);
    size_t len = 0;
    char tmp[1];
    if (!buf || cap == 0) {
        buf = tmp;
        cap = 0;
    }
#define PUT(...)                                                                          \
    do {                                                                                  \
        int k_ = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, __VA_ARGS__); \
        if (k_ > 0)                                                                       \
            len += (size_t)k_;                                                            \
    } while (0)
    if (cap)
        buf[0] = '\0';
    if (ns == 0)
        return 0;
    const char *what = proc == RV_PROC_FORCE_RESTART ? "Force restart" : "Put";
    PUT("%s %s", what, m->name ? m->name : rv_family_name(m->family));
    if (m->product_type)
        PUT(" (%s)", m->product_type);
    if (proc != RV_PROC_FORCE_RESTART)
        PUT(" in %s", rv_procedure_name(proc));
    PUT(":\n");
    for (size_t i = 0; i < ns; i++)
        PUT(" %zu. %s\n", i + 1, steps[i].text);
    PUT("Then: %s\n", rv_model_expect(m, proc));
#undef PUT
    return len;
}
